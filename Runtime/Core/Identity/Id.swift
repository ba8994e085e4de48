/// A 256-bit Boson identifier: an Ed25519 public key (node, peer or value owner) or the SHA-256 of an
/// immutable value.
///
/// Stored as four big-endian 64-bit words so that XOR distance and ordering are cheap. Ordering is
/// the unsigned big-endian integer order, which is also the order of XOR distances.
public struct Id: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// Length of an id in bytes.
    public static let byteCount = 32

    var w0: UInt64, w1: UInt64, w2: UInt64, w3: UInt64

    /// The all-zero id.
    public static let zero = Id(w0: 0, w1: 0, w2: 0, w3: 0)

    /// The all-ones id (the largest distance).
    public static let max = Id(w0: .max, w1: .max, w2: .max, w3: .max)

    init(w0: UInt64, w1: UInt64, w2: UInt64, w3: UInt64) {
        (self.w0, self.w1, self.w2, self.w3) = (w0, w1, w2, w3)
    }

    /// An id from exactly 32 bytes, or nil for any other length.
    public init?(bytes: UnsafeRawBufferPointer) {
        guard bytes.count == Id.byteCount else { return nil }
        func word(_ index: Int) -> UInt64 { UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: index * 8, as: UInt64.self)) }
        self.init(w0: word(0), w1: word(1), w2: word(2), w3: word(3))
    }

    /// An id from exactly 32 bytes, or nil for any other length.
    public init?(bytes: [UInt8]) {
        guard let id = bytes.withUnsafeBytes({ Id(bytes: $0) }) else { return nil }
        self = id
    }

    /// An id from exactly 32 bytes, or nil for any other length.
    public init?(bytes: ArraySlice<UInt8>) {
        guard let id = bytes.withUnsafeBytes({ Id(bytes: $0) }) else { return nil }
        self = id
    }

    /// Parses the text forms the reference accepts: Base58, `0x` + 64 hex digits, `did:boson:<base58>`.
    public init?(_ text: String) {
        if text.hasPrefix("0x") {
            guard let bytes = Hex.decode(String(text.dropFirst(2))) else { return nil }
            self.init(bytes: bytes)
        } else if text.hasPrefix("did:boson:") {
            self.init(base58: String(text.dropFirst("did:boson:".count)))
        } else {
            self.init(base58: text)
        }
    }

    /// Parses Base58 text that must decode to exactly 32 bytes.
    public init?(base58: String) {
        guard let bytes = Base58.decode(base58, maxLength: 64) else { return nil }
        self.init(bytes: bytes)
    }

    /// A uniformly random id.
    public static func random() -> Id { Id(bytes: Sodium.randomBytes(byteCount))! }

    /// The 32 bytes, big-endian.
    public var bytes: [UInt8] {
        [UInt8](unsafeUninitializedCapacity: Id.byteCount) { buffer, count in
            store(into: UnsafeMutableRawBufferPointer(buffer))
            count = Id.byteCount
        }
    }

    /// Appends the 32 bytes to `output`.
    func append(to output: inout [UInt8]) {
        withUnsafeBytes(of: (w0.bigEndian, w1.bigEndian, w2.bigEndian, w3.bigEndian)) { output.append(contentsOf: $0) }
    }

    /// Writes the 32 bytes at the start of `raw` (which holds at least that many).
    private func store(into raw: UnsafeMutableRawBufferPointer) {
        raw.storeBytes(of: w0.bigEndian, toByteOffset: 0, as: UInt64.self)
        raw.storeBytes(of: w1.bigEndian, toByteOffset: 8, as: UInt64.self)
        raw.storeBytes(of: w2.bigEndian, toByteOffset: 16, as: UInt64.self)
        raw.storeBytes(of: w3.bigEndian, toByteOffset: 24, as: UInt64.self)
    }

    /// Base58 text form.
    public var base58: String { Base58.encode(bytes) }

    /// Lowercase hex, for logs and debugging.
    public var hex: String { Hex.encode(bytes) }

    public var description: String { base58 }

    /// Bytewise XOR: the Kademlia distance between two ids, itself an id-sized number.
    public func distance(to other: Id) -> Id {
        Id(w0: w0 ^ other.w0, w1: w1 ^ other.w1, w2: w2 ^ other.w2, w3: w3 ^ other.w3)
    }

    /// Number of leading zero bits (256 for the zero id).
    public var leadingZeroBitCount: Int {
        if w0 != 0 { return w0.leadingZeroBitCount }
        if w1 != 0 { return 64 + w1.leadingZeroBitCount }
        if w2 != 0 { return 128 + w2.leadingZeroBitCount }
        return 192 + w3.leadingZeroBitCount  // 256 when all are zero
    }

    /// `256 − leadingZeroBits(a XOR b)`: the index of the highest differing bit, counted from 1; 0 for equal ids.
    public func approximateDistance(to other: Id) -> Int {
        256 - distance(to: other).leadingZeroBitCount
    }

    /// Whether `a` is closer to this id than `b` is (ties are not closer).
    public func isCloser(_ a: Id, than b: Id) -> Bool {
        distance(to: a) < distance(to: b)
    }

    /// This id plus `other`, modulo 2^256 (used to derive neighbouring test ids).
    public func adding(_ other: Id) -> Id {
        let (r3, c3) = w3.addingReportingOverflow(other.w3)
        var (r2, c2) = w2.addingReportingOverflow(other.w2)
        if c3 { let (s, o) = r2.addingReportingOverflow(1); r2 = s; c2 = c2 || o }
        var (r1, c1) = w1.addingReportingOverflow(other.w1)
        if c2 { let (s, o) = r1.addingReportingOverflow(1); r1 = s; c1 = c1 || o }
        var r0 = w0 &+ other.w0
        if c1 { r0 = r0 &+ 1 }
        return Id(w0: r0, w1: r1, w2: r2, w3: r3)
    }

    public static func < (lhs: Id, rhs: Id) -> Bool {
        (lhs.w0, lhs.w1, lhs.w2, lhs.w3) < (rhs.w0, rhs.w1, rhs.w2, rhs.w3)
    }
}
