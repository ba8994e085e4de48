/// Bounds the CBOR decoder enforces, so that hostile input costs bounded memory and time.
///
/// The defaults follow the reference decoder (nesting ≤ 16, keys ≤ 32 characters, strings ≤ 4096)
/// and the largest datagram a Boson node accepts.
public struct CBORLimits: Sendable {
    /// Maximum nesting of arrays and maps.
    public var maxDepth = 16
    /// Maximum length of a byte or text string, in bytes.
    public var maxStringLength = 4096
    /// Maximum length of a map key, in bytes.
    public var maxKeyLength = 32
    /// Maximum number of elements (or key/value pairs) in one array or map.
    public var maxCollectionCount = 1024
    /// Maximum size of the whole input, in bytes.
    public var maxInputSize = 65_536

    /// The defaults above.
    public static let standard = CBORLimits()

    public init() {}
}
