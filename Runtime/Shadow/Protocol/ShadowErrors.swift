/// Why a handshake failed: the connection is closed, and the refusal counted under `counterName`.
public enum HandshakeError: Error, Equatable, CustomStringConvertible {
    case badMagic
    case unsupportedVersion(UInt8)
    case noCommonCipher(offer: UInt8)
    /// An ephemeral key that is not a usable X25519 point (low order: the shared secret is zero).
    case weakKey
    /// An id that is not an Ed25519 point.
    case invalidId
    /// The signature does not verify under the id the side claims (or the supernode was expected to have).
    case badSignature
    /// The peer sent fewer or more bytes than the step takes.
    case wrongLength(expected: Int, got: Int)

    public var description: String {
        switch self {
        case .badMagic: "not a Shadow handshake (bad magic)"
        case .unsupportedVersion(let version): "Shadow protocol version \(version) is not supported (this side speaks 1)"
        case .noCommonCipher(let offer): "no cipher in common (offer \(offer))"
        case .weakKey: "the ephemeral key is not a usable X25519 key"
        case .invalidId: "the node id is not an Ed25519 key"
        case .badSignature: "the handshake signature does not verify"
        case .wrongLength(let expected, let got): "a handshake step of \(got) bytes, not \(expected)"
        }
    }

    /// The metric suffix a refusal is counted under (`carrier_plugin_shadow_refused_<name>`).
    public var counterName: String {
        switch self {
        case .badMagic, .unsupportedVersion, .wrongLength: "handshake_malformed"
        case .noCommonCipher: "handshake_cipher"
        case .weakKey, .invalidId: "handshake_key"
        case .badSignature: "handshake_signature"
        }
    }
}

/// Why a sealed frame stream failed: the connection is closed.
public enum FrameError: Error, Equatable, CustomStringConvertible {
    /// A frame announcing more than `ShadowFrame.maxPlaintext` bytes.
    case tooLong(UInt32)
    /// A frame that does not authenticate: altered, replayed, reordered, or under another key.
    case forged
    /// A plaintext that is empty or has an unknown type byte.
    case malformed(String)
    /// 2^63 frames in one direction: the connection must end.
    case exhausted

    public var description: String {
        switch self {
        case .tooLong(let length): "a frame of \(length) bytes (at most \(ShadowFrame.maxSealedLength))"
        case .forged: "a frame that does not authenticate"
        case .malformed(let reason): "a malformed frame: \(reason)"
        case .exhausted: "the connection sealed its greatest number of frames"
        }
    }
}
