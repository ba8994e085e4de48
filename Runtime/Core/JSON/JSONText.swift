/// Writes JSON string literals the way the reference (Jackson) does: `"` and `\` escaped, control
/// characters as short escapes or `\u00XX`, everything else (including non-ASCII) as UTF-8.
public enum JSONText {
    /// Appends `text` as a quoted JSON string.
    public static func appendQuoted(_ text: String, to output: inout [UInt8]) {
        output.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): output.append(contentsOf: [0x5C, 0x22])
            case UInt8(ascii: "\\"): output.append(contentsOf: [0x5C, 0x5C])
            case 0x0A: output.append(contentsOf: Array("\\n".utf8))
            case 0x0D: output.append(contentsOf: Array("\\r".utf8))
            case 0x09: output.append(contentsOf: Array("\\t".utf8))
            case 0x08: output.append(contentsOf: Array("\\b".utf8))
            case 0x0C: output.append(contentsOf: Array("\\f".utf8))
            case 0x00..<0x20: output.append(contentsOf: Array("\\u00".utf8) + Array(Hex.encode([byte]).uppercased().utf8))
            default: output.append(byte)
            }
        }
        output.append(UInt8(ascii: "\""))
    }
}
