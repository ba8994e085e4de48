import CarrierCore

/// What we keep per peer id for the datagram envelope: the precomputed crypto_box key, the next
/// outbound nonce, and the nonces of the peer's last few datagrams (to reject replays).
struct PeerCryptoContext {
    /// How many inbound nonces per peer are remembered for replay detection.
    static let replayWindow = 32

    let sharedKey: SharedKey
    /// The nonce for our next datagram to this peer; starts random, +1 (little-endian) per datagram.
    var nextNonce: [UInt8]
    /// Recently accepted nonces from this peer (a ring of `replayWindow` slots).
    var recentNonces: [NonceTag] = []
    var oldestNonceSlot = 0
    var lastUsed: ContinuousClock.Instant

    init(sharedKey: SharedKey, now: ContinuousClock.Instant) {
        self.sharedKey = sharedKey
        self.nextNonce = Sodium.randomBytes(SharedKey.nonceByteCount)
        self.lastUsed = now
    }

    /// Returns the nonce to use now and advances the counter (as libsodium's `sodium_increment`).
    mutating func takeNonce() -> [UInt8] {
        let nonce = nextNonce
        for index in nextNonce.indices {
            nextNonce[index] &+= 1
            if nextNonce[index] != 0 { break }
        }
        return nonce
    }

    /// Records an authenticated inbound nonce; false if it was already seen (a replay).
    mutating func acceptInbound(nonce: NonceTag) -> Bool {
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

/// A 24-byte nonce held in three words, so the replay window needs no allocation per datagram.
struct NonceTag: Equatable {
    let a: UInt64, b: UInt64, c: UInt64

    init(_ nonce: UnsafeRawBufferPointer) {
        a = nonce.loadUnaligned(fromByteOffset: 0, as: UInt64.self)
        b = nonce.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
        c = nonce.loadUnaligned(fromByteOffset: 16, as: UInt64.self)
    }
}
