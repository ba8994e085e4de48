/// A strict, bounded JSON parser (RFC 8259) for the compact JSON form of Boson messages.
///
/// Refuses fractions and exponents (no Boson field is a real number), leading zeros, integers that do
/// not fit in 64 bits, duplicate keys, invalid escapes and unpaired surrogates, nesting deeper than
/// `maxDepth`, and anything after the top-level value other than whitespace.
public struct JSONParser {
    /// Maximum nesting of arrays and objects.
    public static let maxDepth = 16
    /// Maximum input size in bytes.
    public static let maxInputSize = 65_536

    private let input: [UInt8]
    private var position = 0

    private init(_ input: [UInt8]) { self.input = input }

    /// Parses one JSON value spanning all of `text`.
    public static func parse(_ text: String) throws(JSONError) -> JSONValue {
        try parse(Array(text.utf8))
    }

    /// Parses one JSON value spanning all of `bytes` (UTF-8).
    public static func parse(_ bytes: [UInt8]) throws(JSONError) -> JSONValue {
        guard bytes.count <= maxInputSize else {
            throw JSONError("input is \(bytes.count) bytes, limit is \(maxInputSize)", at: 0)
        }
        var parser = JSONParser(bytes)
        parser.skipWhitespace()
        let value = try parser.parseValue(depth: 0)
        parser.skipWhitespace()
        guard parser.position == bytes.count else { throw JSONError("unexpected text after the value", at: parser.position) }
        return value
    }

    private mutating func skipWhitespace() {
        while position < input.count, [0x20, 0x09, 0x0A, 0x0D].contains(input[position]) { position += 1 }
    }

    private func peek() throws(JSONError) -> UInt8 {
        guard position < input.count else { throw JSONError("unexpected end of input", at: position) }
        return input[position]
    }

    private mutating func expect(_ character: UInt8) throws(JSONError) {
        guard try peek() == character else {
            throw JSONError("expected '\(Character(Unicode.Scalar(character)))'", at: position)
        }
        position += 1
    }

    private mutating func parseValue(depth: Int) throws(JSONError) -> JSONValue {
        switch try peek() {
        case UInt8(ascii: "{"): return try parseObject(depth: depth + 1)
        case UInt8(ascii: "["): return try parseArray(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        case UInt8(ascii: "t"): try parseLiteral("true"); return .bool(true)
        case UInt8(ascii: "f"): try parseLiteral("false"); return .bool(false)
        case UInt8(ascii: "n"): try parseLiteral("null"); return .null
        default: throw JSONError("unexpected character", at: position)
        }
    }

    private mutating func parseLiteral(_ literal: String) throws(JSONError) {
        for character in literal.utf8 {
            guard position < input.count, input[position] == character else {
                throw JSONError("invalid literal, expected \(literal)", at: position)
            }
            position += 1
        }
    }

    private mutating func parseObject(depth: Int) throws(JSONError) -> JSONValue {
        guard depth <= JSONParser.maxDepth else { throw JSONError("nesting deeper than \(JSONParser.maxDepth)", at: position) }
        position += 1
        var entries: [JSONValue.Entry] = []
        var keys = DuplicateKeyDetector()
        skipWhitespace()
        if try peek() == UInt8(ascii: "}") {
            position += 1
            return .object(entries)
        }
        while true {
            skipWhitespace()
            let keyStart = position
            guard try peek() == UInt8(ascii: "\"") else { throw JSONError("expected a string key", at: position) }
            let key = try parseString()
            guard keys.insert(key) else { throw JSONError("duplicate key \"\(key)\"", at: keyStart) }
            skipWhitespace()
            try expect(UInt8(ascii: ":"))
            skipWhitespace()
            entries.append(JSONValue.Entry(key, try parseValue(depth: depth)))
            skipWhitespace()
            if try peek() == UInt8(ascii: ",") {
                position += 1
                continue
            }
            try expect(UInt8(ascii: "}"))
            return .object(entries)
        }
    }

    private mutating func parseArray(depth: Int) throws(JSONError) -> JSONValue {
        guard depth <= JSONParser.maxDepth else { throw JSONError("nesting deeper than \(JSONParser.maxDepth)", at: position) }
        position += 1
        var elements: [JSONValue] = []
        skipWhitespace()
        if try peek() == UInt8(ascii: "]") {
            position += 1
            return .array(elements)
        }
        while true {
            skipWhitespace()
            elements.append(try parseValue(depth: depth))
            skipWhitespace()
            if try peek() == UInt8(ascii: ",") {
                position += 1
                continue
            }
            try expect(UInt8(ascii: "]"))
            return .array(elements)
        }
    }

    private mutating func parseNumber() throws(JSONError) -> JSONValue {
        let start = position
        let negative = input[position] == UInt8(ascii: "-")
        if negative { position += 1 }
        let digitsStart = position
        while position < input.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(input[position]) { position += 1 }
        let digits = input[digitsStart..<position]
        guard !digits.isEmpty else { throw JSONError("expected a digit", at: position) }
        guard digits.count == 1 || digits.first != UInt8(ascii: "0") else { throw JSONError("leading zero in a number", at: start) }
        if position < input.count, [UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E")].contains(input[position]) {
            throw JSONError("only integers are allowed", at: start)
        }
        var magnitude: UInt64 = 0
        for digit in digits {
            let (times10, overflow1) = magnitude.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(UInt64(digit - UInt8(ascii: "0")))
            guard !overflow1, !overflow2 else { throw JSONError("integer does not fit in 64 bits", at: start) }
            magnitude = sum
        }
        if negative {
            guard magnitude <= UInt64(Int64.max) + 1 else { throw JSONError("integer does not fit in 64 bits", at: start) }
            return .integer(magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude))
        }
        return magnitude <= UInt64(Int64.max) ? .integer(Int64(magnitude)) : .largeUnsigned(magnitude)
    }

    private mutating func parseHexQuad() throws(JSONError) -> UInt32 {
        guard input.count - position >= 4 else { throw JSONError("truncated \\u escape", at: position) }
        guard let bytes = Hex.decode(String(decoding: input[position..<(position + 4)], as: UTF8.self)) else {
            throw JSONError("invalid \\u escape", at: position)
        }
        position += 4
        return UInt32(bytes[0]) << 8 | UInt32(bytes[1])
    }

    private mutating func parseString() throws(JSONError) -> String {
        let start = position
        position += 1
        var bytes: [UInt8] = []
        while true {
            guard position < input.count else { throw JSONError("unterminated string", at: start) }
            let character = input[position]
            position += 1
            switch character {
            case UInt8(ascii: "\""):
                guard let text = String(validating: bytes, as: UTF8.self) else { throw JSONError("string is not valid UTF-8", at: start) }
                return text
            case UInt8(ascii: "\\"):
                guard position < input.count else { throw JSONError("unterminated escape", at: position) }
                let escape = input[position]
                position += 1
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): bytes.append(escape)
                case UInt8(ascii: "b"): bytes.append(0x08)
                case UInt8(ascii: "f"): bytes.append(0x0C)
                case UInt8(ascii: "n"): bytes.append(0x0A)
                case UInt8(ascii: "r"): bytes.append(0x0D)
                case UInt8(ascii: "t"): bytes.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try parseHexQuad()
                    if (0xD800...0xDBFF).contains(scalar) {
                        guard input.count - position >= 2, input[position] == UInt8(ascii: "\\"), input[position + 1] == UInt8(ascii: "u") else {
                            throw JSONError("unpaired surrogate in \\u escape", at: position)
                        }
                        position += 2
                        let low = try parseHexQuad()
                        guard (0xDC00...0xDFFF).contains(low) else { throw JSONError("unpaired surrogate in \\u escape", at: position) }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    }
                    guard let unicode = Unicode.Scalar(scalar) else { throw JSONError("unpaired surrogate in \\u escape", at: position) }
                    bytes.append(contentsOf: String(Character(unicode)).utf8)
                default: throw JSONError("invalid escape", at: position - 1)
                }
            case 0x00..<0x20: throw JSONError("unescaped control character in string", at: position - 1)
            default: bytes.append(character)
            }
        }
    }
}
