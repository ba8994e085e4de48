import CarrierCore
import Synchronization

/// Seals and opens Boson datagrams: `senderId(32) ‖ nonce(24) ‖ MAC(16) ‖ ciphertext` with
/// crypto_box between the sender's and the receiver's Ed25519-derived X25519 keys (BOSON-WIRE.md §2).
///
/// One context per peer caches the shared key and the outbound nonce counter; a context unused for
/// `contextLifetime` is rebuilt with a fresh random nonce start, as the reference does. At most
/// `maxContexts` are kept; a peer evicted from a full cache loses its replay window, like any
/// bounded cache (the transport's per-source rate limits bound how fast new peers can arrive). Replay
/// protection is stricter than the reference's (which only refuses a repeat of the immediately
/// previous nonce): the last `PeerCryptoContext.replayWindow` nonces of each peer are refused, and a
/// nonce is remembered only after its MAC verified, so forged datagrams cannot disturb the window.
/// Thread-safe; crypto runs outside the lock.
public final class DatagramEnvelope: Sendable {
    /// senderId + nonce + MAC.
    public static let overhead = Id.byteCount + SharedKey.nonceByteCount + SharedKey.macByteCount
    /// The smallest datagram accepted, as in the reference: the 72-byte envelope and 2 message bytes.
    public static let minimumDatagramSize = 74

    /// Our own identity.
    public let identity: KeyPair
    /// How long an unused per-peer context is kept.
    public let contextLifetime: Duration
    /// Most contexts kept at once; beyond it expired ones are dropped, then the least recently used.
    public let maxContexts: Int

    private struct State {
        var contexts: [Id: PeerCryptoContext] = [:]
        var rejections: [EnvelopeError.Reason: Int] = [:]
    }

    private let identityBytes: [UInt8]
    private let state = Mutex(State())
    private let clock = ContinuousClock()

    /// An envelope sealing as `identity`. `contextLifetime` is how long an unused peer context is
    /// kept (15 minutes, as the reference); `maxContexts` (at least 1) bounds the cache.
    public init(identity: KeyPair, contextLifetime: Duration = .seconds(15 * 60), maxContexts: Int = 65_536) {
        precondition(maxContexts >= 1, "maxContexts must be at least 1")
        self.identity = identity
        self.identityBytes = identity.publicKey.bytes
        self.contextLifetime = contextLifetime
        self.maxContexts = maxContexts
    }

    /// How many peers have a cached context (shared key and nonce state).
    public var cachedPeerCount: Int {
        state.withLock { $0.contexts.count }
    }

    /// How many datagrams were refused, per reason, since this envelope was created.
    public var rejectionCounts: [EnvelopeError.Reason: Int] {
        state.withLock { $0.rejections }
    }

    /// Seals `message` (a CBOR message) for `peer`. Throws if the datagram would exceed the family's limit
    /// or `peer` is ourselves or not a valid key.
    public func seal(_ message: [UInt8], to peer: Id, family: AddressFamily) throws(EnvelopeError) -> [UInt8] {
        let size = DatagramEnvelope.overhead + message.count
        guard size >= DatagramEnvelope.minimumDatagramSize else {
            throw EnvelopeError(.truncated, "a \(message.count)-byte message is too short to send")
        }
        guard size <= family.maxOutboundDatagramSize else {
            throw EnvelopeError(.oversized, "\(size) bytes exceeds the \(family.maxOutboundDatagramSize)-byte limit")
        }
        guard peer != identity.publicKey else { throw EnvelopeError(.selfAddressed, "refusing to seal a datagram to our own id") }
        let key = try sharedKey(with: peer)
        let nonce = withContext(for: peer, key: key) { $0.takeNonce() }
        var datagram = identityBytes
        datagram.append(contentsOf: repeatElement(0, count: size - Id.byteCount))
        datagram.withUnsafeMutableBytes { output in
            nonce.store(into: output, at: Id.byteCount)
            let nonceBytes = UnsafeRawPointer(output.baseAddress! + Id.byteCount).assumingMemoryBound(to: UInt8.self)
            let sealed = UnsafeMutableRawBufferPointer(rebasing: output[(Id.byteCount + SharedKey.nonceByteCount)...])
            message.withUnsafeBytes { key.seal($0, nonce: nonceBytes, into: sealed) }
        }
        return datagram
    }

    /// Opens a datagram: returns the sender's id and the CBOR message, or throws (and counts) why not.
    public func open(_ datagram: [UInt8], family: AddressFamily) throws(EnvelopeError) -> (sender: Id, message: [UInt8]) {
        do {
            return try openUncounted(datagram, family: family)
        } catch {
            state.withLock { $0.rejections[error.reason, default: 0] += 1 }
            throw error
        }
    }

    private func openUncounted(_ datagram: [UInt8], family: AddressFamily) throws(EnvelopeError) -> (sender: Id, message: [UInt8]) {
        guard datagram.count >= DatagramEnvelope.minimumDatagramSize else {
            throw EnvelopeError(.truncated, "\(datagram.count) bytes is shorter than the \(DatagramEnvelope.minimumDatagramSize)-byte minimum")
        }
        guard datagram.count <= family.maxInboundDatagramSize else {
            throw EnvelopeError(.oversized, "\(datagram.count) bytes exceeds the \(family.maxInboundDatagramSize)-byte limit")
        }
        let sender = Id(bytes: datagram[0..<Id.byteCount])!
        guard sender != identity.publicKey else { throw EnvelopeError(.selfAddressed, "datagram claims our own id as sender") }
        let key = try sharedKey(with: sender)
        let nonceEnd = Id.byteCount + SharedKey.nonceByteCount
        let (plaintext, nonce) = datagram.withUnsafeBytes { bytes in
            let nonce = UnsafeRawBufferPointer(rebasing: bytes[Id.byteCount..<nonceEnd])
            let plaintext = key.open(UnsafeRawBufferPointer(rebasing: bytes[nonceEnd...]),
                                     nonce: nonce.baseAddress!.assumingMemoryBound(to: UInt8.self))
            return (plaintext, Nonce(nonce))
        }
        guard let plaintext else { throw EnvelopeError(.authenticationFailed, "MAC does not verify for sender \(sender)") }
        let verdict = withContext(for: sender, key: key) { context -> EnvelopeError.Reason? in
            if context.isOwnNonce(nonce) { return .reflected }
            return context.acceptInbound(nonce: nonce) ? nil : .replayed
        }
        switch verdict {
        case .reflected?: throw EnvelopeError(.reflected, "one of our own datagrams to \(sender) sent back to us")
        case .some: throw EnvelopeError(.replayed, "nonce already used by \(sender)")
        case nil: break
        }
        return (sender, plaintext)
    }

    /// The shared key with `peer`: the cached one while its context is live, else computed outside
    /// the lock and not cached. Only `withContext` stores or refreshes contexts, after a seal or a
    /// verified open, so forged datagrams can neither fill the cache nor keep an entry alive.
    private func sharedKey(with peer: Id) throws(EnvelopeError) -> SharedKey {
        let now = clock.now
        let cached = state.withLock { state -> SharedKey? in
            guard let index = state.contexts.index(forKey: peer), now - state.contexts.values[index].lastUsed < contextLifetime else { return nil }
            return state.contexts.values[index].sharedKey
        }
        if let cached { return cached }
        do {
            return try SharedKey(between: identity, and: peer)
        } catch {
            throw EnvelopeError(.invalidPeerKey, "\(peer) is not a valid Ed25519 public key")
        }
    }

    /// Runs `body` under the lock on the live context for `peer`, first (re)creating it from `key`
    /// when it is missing or expired.
    private func withContext<T: Sendable>(for peer: Id, key: SharedKey, _ body: (inout PeerCryptoContext) -> T) -> T {
        let now = clock.now
        return state.withLock { state in
            if let result = liveContext(for: peer, now: now, in: &state, body) { return result }
            if state.contexts[peer] == nil, state.contexts.count >= maxContexts { evict(from: &state.contexts, now: now) }
            var context = PeerCryptoContext(sharedKey: key, now: now)
            let result = body(&context)
            state.contexts[peer] = context
            return result
        }
    }

    /// Runs `body` in place on `peer`'s context if it is live (one hash lookup, no copy); nil otherwise.
    private func liveContext<T: Sendable>(for peer: Id, now: ContinuousClock.Instant, in state: inout State,
                                _ body: (inout PeerCryptoContext) -> T) -> T? {
        guard let index = state.contexts.index(forKey: peer), now - state.contexts.values[index].lastUsed < contextLifetime else {
            return nil
        }
        state.contexts.values[index].lastUsed = now
        return body(&state.contexts.values[index])
    }

    /// Makes room in a full cache: drops expired contexts and, if that frees less than an eighth,
    /// the least recently used eighth, so the scan is paid once per `maxContexts / 8` new peers.
    private func evict(from contexts: inout [Id: PeerCryptoContext], now: ContinuousClock.Instant) {
        contexts = contexts.filter { now - $0.value.lastUsed < contextLifetime }
        let target = maxContexts - max(1, maxContexts / 8)
        guard contexts.count > target else { return }
        let leastRecentlyUsed = contexts.sorted { $0.value.lastUsed < $1.value.lastUsed }.prefix(contexts.count - target)
        for (peer, _) in leastRecentlyUsed { contexts[peer] = nil }
    }
}
