/// A decoded CBOR data item in the profile the Boson protocol uses: integers, byte and text strings,
/// arrays and maps with text keys. Tags, floats and simple values (true, false, null) never appear in
/// Boson messages and are refused by the decoder.
public indirect enum CBOR: Hashable, Sendable {
    /// Major type 0: a non-negative integer.
    case unsigned(UInt64)
    /// Major type 1: the integer `-1 - n`.
    case negative(UInt64)
    /// Major type 2.
    case bytes([UInt8])
    /// Major type 3 (valid UTF-8).
    case text(String)
    /// Major type 4, definite or indefinite on the wire.
    case array([CBOR])
    /// Major type 5 with text keys, in wire order, no duplicate keys.
    case map([Entry])

    /// One key/value pair of a map.
    public typealias Entry = MapEntry<CBOR>

    /// The integer as an `Int64`, or nil if it is not an integer or does not fit.
    public var int64: Int64? {
        switch self {
        case .unsigned(let n): n <= UInt64(Int64.max) ? Int64(n) : nil
        case .negative(let n): n <= UInt64(Int64.max) ? -1 - Int64(n) : nil
        default: nil
        }
    }

    /// A short name of the item's type, for error messages.
    public var typeName: String {
        switch self {
        case .unsigned, .negative: "integer"
        case .bytes: "byte string"
        case .text: "text string"
        case .array: "array"
        case .map: "map"
        }
    }
}
