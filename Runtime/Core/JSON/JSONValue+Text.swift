extension JSONValue {
    /// The value as compact JSON text (no spaces), object keys in their order, strings escaped as
    /// `JSONText.appendQuoted` does.
    public var text: String {
        var output: [UInt8] = []
        append(to: &output)
        return String(decoding: output, as: UTF8.self)
    }

    /// Appends the compact JSON text of the value.
    public func append(to output: inout [UInt8]) {
        switch self {
        case .null: output += Array("null".utf8)
        case .bool(let flag): output += Array((flag ? "true" : "false").utf8)
        case .integer(let number): output += Array(String(number).utf8)
        case .largeUnsigned(let number): output += Array(String(number).utf8)
        case .string(let string): JSONText.appendQuoted(string, to: &output)
        case .array(let items):
            output.append(UInt8(ascii: "["))
            for (index, item) in items.enumerated() {
                if index > 0 { output.append(UInt8(ascii: ",")) }
                item.append(to: &output)
            }
            output.append(UInt8(ascii: "]"))
        case .object(let entries):
            output.append(UInt8(ascii: "{"))
            for (index, entry) in entries.enumerated() {
                if index > 0 { output.append(UInt8(ascii: ",")) }
                JSONText.appendQuoted(entry.key, to: &output)
                output.append(UInt8(ascii: ":"))
                entry.value.append(to: &output)
            }
            output.append(UInt8(ascii: "}"))
        }
    }
}
