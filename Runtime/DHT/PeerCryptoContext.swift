import CarrierCore

/// What we keep per peer id for the datagram envelope: the precomputed crypto_box key, our nonce
/// counter towards the peer, and the nonces of the peer's last few datagrams (to reject replays).
struct PeerCryptoContext {
    /// How many inbound nonces per peer are remembered for replay detection.
    static let replayWindow = 32

    let sharedKey: SharedKey
    /// Our first nonce to this peer (random); each datagram uses the next one, +1 little-endian.
    let firstNonce: Nonce
    /// How many datagrams we have sealed to this peer with this context.
    private(set) var sentCount: UInt64 = 0
    /// Recently accepted nonces from this peer (a ring of `replayWindow` slots).
    private var recentNonces: [Nonce] = []
    private var oldestNonceSlot = 0
    var lastUsed: ContinuousClock.Instant

    init(sharedKey: SharedKey, now: ContinuousClock.Instant) {
        self.sharedKey = sharedKey
        self.firstNonce = Sodium.randomBytes(SharedKey.nonceByteCount).withUnsafeBytes { Nonce($0) }
        self.lastUsed = now
    }

    /// The nonce for our next datagram to this peer; advances the counter (as `sodium_increment`).
    mutating func takeNonce() -> Nonce {
        defer { sentCount += 1 }
        return firstNonce.advanced(by: sentCount)
    }

    /// Whether `nonce` is one we used ourselves towards this peer: the shared key is the same in both
    /// directions, so a datagram of ours sent back to us with the peer's id in front would open.
    func isOwnNonce(_ nonce: Nonce) -> Bool {
        nonce.distance(from: firstNonce).map { $0 < sentCount } ?? false
    }

    /// Records an authenticated inbound nonce; false if it was already seen (a replay).
    mutating func acceptInbound(nonce: Nonce) -> Bool {
        guard !recentNonces.contains(nonce) else { return false }
        if recentNonces.count < PeerCryptoContext.replayWindow {
            recentNonces.append(nonce)
        } else {
            recentNonces[oldestNonceSlot] = nonce
            oldestNonceSlot = (oldestNonceSlot + 1) % PeerCryptoContext.replayWindow
        }
        return true
    }
}

/// A 24-byte crypto_box nonce as a 192-bit little-endian number in three words, so nonces can be
/// counted, compared and remembered without allocating.
struct Nonce: Equatable {
    /// Least significant word first.
    let low: UInt64, middle: UInt64, high: UInt64

    init(low: UInt64, middle: UInt64, high: UInt64) {
        (self.low, self.middle, self.high) = (low, middle, high)
    }

    /// Reads 24 bytes.
    init(_ bytes: UnsafeRawBufferPointer) {
        low = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
        middle = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
        high = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 16, as: UInt64.self))
    }

    /// Writes the 24 bytes at `offset`.
    func store(into bytes: UnsafeMutableRawBufferPointer, at offset: Int) {
        bytes.storeBytes(of: low.littleEndian, toByteOffset: offset, as: UInt64.self)
        bytes.storeBytes(of: middle.littleEndian, toByteOffset: offset + 8, as: UInt64.self)
        bytes.storeBytes(of: high.littleEndian, toByteOffset: offset + 16, as: UInt64.self)
    }

    /// This nonce plus `count`, modulo 2^192.
    func advanced(by count: UInt64) -> Nonce {
        let (newLow, carry) = low.addingReportingOverflow(count)
        guard carry else { return Nonce(low: newLow, middle: middle, high: high) }
        let (newMiddle, carry2) = middle.addingReportingOverflow(1)
        return Nonce(low: newLow, middle: newMiddle, high: carry2 ? high &+ 1 : high)
    }

    /// `self − start` modulo 2^192 when it fits in 64 bits, else nil.
    func distance(from start: Nonce) -> UInt64? {
        let (lowDifference, borrow) = low.subtractingReportingOverflow(start.low)
        let (middleDifference, borrow2) = middle.subtractingReportingOverflow(start.middle)
        let middleResult = middleDifference &- (borrow ? 1 : 0)
        let borrowOut = borrow2 || (borrow && middleDifference == 0)
        let highResult = high &- start.high &- (borrowOut ? 1 : 0)
        return middleResult == 0 && highResult == 0 ? lowDifference : nil
    }
}
