/// Why a datagram was not sealed or not opened. `reason` is what rejection counters are keyed by.
public struct EnvelopeError: Error, Equatable, CustomStringConvertible {
    /// The rule a datagram broke.
    public enum Reason: String, Sendable, CaseIterable {
        /// Shorter than the 74-byte minimum (id, nonce, MAC and a minimal message).
        case truncated
        /// Longer than the address family allows.
        case oversized
        /// Sealed by, or addressed to, our own id.
        case selfAddressed
        /// Carries a nonce this peer already used recently.
        case replayed
        /// One of our own datagrams to this peer, sent back to us (the shared key works both ways).
        case reflected
        /// The MAC does not verify: tampered bytes or the wrong key.
        case authenticationFailed
        /// The sender id is not a usable Ed25519 public key.
        case invalidPeerKey
    }

    /// The broken rule.
    public let reason: Reason
    /// What exactly was wrong, for logs.
    public let detail: String

    public init(_ reason: Reason, _ detail: String) {
        self.reason = reason
        self.detail = detail
    }

    public var description: String { "datagram \(reason.rawValue): \(detail)" }
}
