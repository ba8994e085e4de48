import CarrierCore

/// Write tokens (BOSON-WIRE.md §6): a FIND_NODE with the token bit gets one, and a later STORE_VALUE or
/// ANNOUNCE_PEER for that target from the same id, address and port must echo it.
///
/// A token is the first non-zero 4-byte big-endian slice of SHA-256(requester id ‖ IP ‖ BE16(port)
/// ‖ target ‖ BE64(window start ms) ‖ secret), with a 32-byte random secret per process. Windows are
/// the 5-minute slots of the caller's clock and a token from the current or the previous slot is
/// accepted, so a token lives 5 to 10 minutes (the reference rotates on a timer to the same effect).
/// Stateless apart from the secret, so it is freely shared between threads.
public struct TokenManager: Sendable, CustomStringConvertible, CustomReflectable {
    /// How long one window lasts, in milliseconds.
    public static let windowLength: Int64 = 5 * 60_000

    private let secret: [UInt8]
    /// Used in the (2^-256-likely) case that every slice of the digest is zero.
    private let fallback: Int32

    public init(secret: [UInt8] = Sodium.randomBytes(32)) {
        self.secret = secret
        var fallback: Int32 = 0
        while fallback == 0 { fallback = Int32(truncatingIfNeeded: Sodium.randomUInt64()) }
        self.fallback = fallback
    }

    /// The token for `requester` at `address`:`port` to write `target`, at time `now` (ms).
    public func token(for requester: Id, address: IPAddress, port: UInt16, target: Id, now: Int64) -> Int32 {
        token(requester, address, port, target, window: Self.windowStart(now))
    }

    /// Whether `token` was issued to `requester` at `address`:`port` for `target` in this or the
    /// previous window. Zero is never valid.
    public func verify(_ token: Int32, for requester: Id, address: IPAddress, port: UInt16, target: Id, now: Int64) -> Bool {
        guard token != 0 else { return false }
        let current = Self.windowStart(now)
        return token == self.token(requester, address, port, target, window: current)
            || token == self.token(requester, address, port, target, window: current - Self.windowLength)
    }

    /// Never shows the secret.
    public var description: String { "TokenManager" }
    public var customMirror: Mirror { Mirror(self, children: []) }

    private static func windowStart(_ now: Int64) -> Int64 {
        now - ((now % windowLength) + windowLength) % windowLength
    }

    private func token(_ requester: Id, _ address: IPAddress, _ port: UInt16, _ target: Id, window: Int64) -> Int32 {
        let digest = Sodium.sha256(requester.bytes, address.bytes, [UInt8(port >> 8), UInt8(port & 0xFF)], target.bytes,
                                   BigEndian.bytes(window), secret)
        for start in stride(from: 0, to: digest.count, by: 4) {
            let slice = digest[start..<(start + 4)].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            if slice != 0 { return Int32(bitPattern: slice) }
        }
        return fallback
    }
}
