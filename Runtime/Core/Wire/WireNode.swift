/// A decoded tree (CBOR or JSON) that message decoders read fields from. Each conformance knows how
/// its form spells ids, binary and addresses, so every message's parsing rules are written once.
protocol WireNode: Hashable, Sendable {
    var typeName: String { get }
    /// Key/value pairs in wire order, or nil if not a map.
    var mapEntries: [MapEntry<Self>]? { get }
    /// Elements, or nil if not an array.
    var arrayElements: [Self]? { get }
    /// The integer value, or nil if not an integer (or beyond Int64).
    var integerValue: Int64? { get }
    /// Text, or nil.
    var textValue: String? { get }
    /// An id (32 bytes in CBOR, Base58 in JSON), or nil with no other explanation needed.
    var idValue: Id? { get }
    /// Binary (a byte string in CBOR, base64url text in JSON), or nil.
    var binaryValue: [UInt8]? { get }
    /// An address (4 or 16 bytes in CBOR, text in JSON), or nil.
    var ipAddressValue: IPAddress? { get }
}

extension CBOR: WireNode {
    var mapEntries: [MapEntry<CBOR>]? {
        if case .map(let entries) = self { return entries }
        return nil
    }
    var arrayElements: [CBOR]? {
        if case .array(let elements) = self { return elements }
        return nil
    }
    var integerValue: Int64? { int64 }
    var textValue: String? {
        if case .text(let text) = self { return text }
        return nil
    }
    var idValue: Id? {
        if case .bytes(let bytes) = self { return Id(bytes: bytes) }
        return nil
    }
    var binaryValue: [UInt8]? {
        if case .bytes(let bytes) = self { return bytes }
        return nil
    }
    var ipAddressValue: IPAddress? {
        if case .bytes(let bytes) = self { return IPAddress(bytes: bytes) }
        return nil
    }
}

extension JSONValue: WireNode {
    var mapEntries: [MapEntry<JSONValue>]? {
        if case .object(let entries) = self { return entries }
        return nil
    }
    var arrayElements: [JSONValue]? {
        if case .array(let elements) = self { return elements }
        return nil
    }
    var integerValue: Int64? {
        if case .integer(let value) = self { return value }
        return nil
    }
    var textValue: String? {
        if case .string(let text) = self { return text }
        return nil
    }
    var idValue: Id? { textValue.flatMap { Id(base58: $0) } }
    var binaryValue: [UInt8]? { textValue.flatMap { Base64URL.decode($0) } }
    var ipAddressValue: IPAddress? { textValue.flatMap { IPAddress($0) } }
}

/// The fields of one map, read by key with the dotted path of the map kept for error messages.
/// Unknown keys are ignored, as the reference does. Lookups scan the entries: Boson maps hold a
/// handful of keys, and a scan costs less than hashing them.
struct WireFields<Node: WireNode> {
    let path: String
    private let entries: [MapEntry<Node>]

    /// Reads `node` as a map; throws naming `path` if it is not one.
    init(_ node: Node, path: String) throws(MessageDecodingError) {
        guard let entries = node.mapEntries else {
            throw .invalidField(field: path.isEmpty ? "message" : path, problem: "expected a map, got \(node.typeName)")
        }
        self.path = path
        self.entries = entries
    }

    /// The keys in wire order.
    var keys: [String] { entries.map { $0.key } }

    private func value(_ key: String) -> Node? {
        entries.first { $0.key == key }?.value
    }

    func fieldPath(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    func has(_ key: String) -> Bool { value(key) != nil }

    func invalid(_ key: String, _ problem: String) -> MessageDecodingError {
        .invalidField(field: fieldPath(key), problem: problem)
    }

    /// Reads `key` with `read`; nil if absent; throws if present but `read` gives nil.
    func optional<T>(_ key: String, expected: String, _ read: (Node) -> T?) throws(MessageDecodingError) -> T? {
        guard let node = value(key) else { return nil }
        guard let value = read(node) else { throw invalid(key, "expected \(expected), got \(node.typeName)") }
        return value
    }

    /// Reads `key` with `read`; throws if absent or unreadable.
    func required<T>(_ key: String, expected: String, _ read: (Node) -> T?) throws(MessageDecodingError) -> T {
        guard let value = try optional(key, expected: expected, read) else { throw invalid(key, "missing (\(expected) required)") }
        return value
    }

    func optionalId(_ key: String) throws(MessageDecodingError) -> Id? {
        try optional(key, expected: "a 32-byte id", { $0.idValue })
    }

    func requiredId(_ key: String) throws(MessageDecodingError) -> Id {
        try required(key, expected: "a 32-byte id", { $0.idValue })
    }

    func optionalBinary(_ key: String, length: Int? = nil) throws(MessageDecodingError) -> [UInt8]? {
        guard let bytes = try optional(key, expected: "binary data", { $0.binaryValue }) else { return nil }
        if let length, bytes.count != length { throw invalid(key, "expected \(length) bytes, got \(bytes.count)") }
        try checkLength(key, bytes.count)
        return bytes
    }

    func optionalText(_ key: String) throws(MessageDecodingError) -> String? {
        guard let text = try optional(key, expected: "text", { $0.textValue }) else { return nil }
        try checkLength(key, text.utf8.count)
        return text
    }

    /// The CBOR string limit holds for the JSON form too, so every message one form accepts can be
    /// written in the other and read back.
    private func checkLength(_ key: String, _ count: Int) throws(MessageDecodingError) {
        let limit = CBORLimits.standard.maxStringLength
        if count > limit { throw invalid(key, "\(count) bytes exceeds the limit of \(limit)") }
    }

    /// An integer within `range`; nil if absent.
    func optionalInteger<T: FixedWidthInteger>(_ key: String, as type: T.Type, in range: ClosedRange<T> = T.min...T.max) throws(MessageDecodingError) -> T? {
        guard let node = value(key) else { return nil }
        guard let value = node.integerValue else {
            if node.typeName == "integer" { throw invalid(key, "integer out of range \(range)") }
            throw invalid(key, "expected an integer, got \(node.typeName)")
        }
        guard let exact = T(exactly: value), range.contains(exact) else { throw invalid(key, "integer \(value) out of range \(range)") }
        return exact
    }

    func requiredInteger<T: FixedWidthInteger>(_ key: String, as type: T.Type, in range: ClosedRange<T> = T.min...T.max) throws(MessageDecodingError) -> T {
        guard let value = try optionalInteger(key, as: type, in: range) else { throw invalid(key, "missing (an integer required)") }
        return value
    }

    /// A nested map.
    func optionalMap(_ key: String) throws(MessageDecodingError) -> WireFields? {
        guard let node = value(key) else { return nil }
        return try WireFields(node, path: fieldPath(key))
    }

    /// An array's elements; `elementPath(key, index)` names one in an error.
    func optionalArray(_ key: String) throws(MessageDecodingError) -> [Node]? {
        guard let node = value(key) else { return nil }
        guard let elements = node.arrayElements else { throw invalid(key, "expected an array, got \(node.typeName)") }
        return elements
    }

    /// The dotted path of element `index` of the array under `key`, for error messages.
    func elementPath(_ key: String, _ index: Int) -> String { "\(fieldPath(key))[\(index)]" }
}
