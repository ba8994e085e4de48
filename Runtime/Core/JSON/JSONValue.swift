/// A parsed JSON value. Objects keep their keys in text order; integers keep full 64-bit precision.
public indirect enum JSONValue: Hashable, Sendable {
    case null
    case bool(Bool)
    /// An integer that fits in `Int64`.
    case integer(Int64)
    /// A non-negative integer above `Int64.max`.
    case largeUnsigned(UInt64)
    case string(String)
    case array([JSONValue])
    case object([Entry])

    /// One key/value pair of an object.
    public typealias Entry = MapEntry<JSONValue>

    /// A short name of the value's type, for error messages.
    public var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "boolean"
        case .integer, .largeUnsigned: "integer"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }
}
