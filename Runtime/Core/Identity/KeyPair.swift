import CSodium

/// An Ed25519 key pair. Its public key is a node's (or peer's, or value owner's) `Id`.
///
/// The secret key uses libsodium's 64-byte layout (32-byte seed followed by the public key), the same
/// layout as the reference's `privateKey`.
public struct KeyPair: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// Length of a secret key in bytes (seed ‖ public key).
    public static let secretKeyByteCount = 64
    /// Length of a seed in bytes.
    public static let seedByteCount = 32
    /// Length of a signature in bytes.
    public static let signatureByteCount = 64

    /// The public key as an id.
    public let publicKey: Id
    /// seed ‖ public key.
    public let secretKey: [UInt8]

    /// A fresh random key pair.
    public static func random() -> KeyPair {
        try! KeyPair(seed: Sodium.randomBytes(seedByteCount))
    }

    /// The key pair derived from a 32-byte seed.
    public init(seed: [UInt8]) throws(KeyError) {
        _ = Sodium.ready
        guard seed.count == KeyPair.seedByteCount else { throw .wrongLength(expected: 32, got: seed.count) }
        var publicKey = [UInt8](repeating: 0, count: 32)
        var secretKey = [UInt8](repeating: 0, count: 64)
        crypto_sign_seed_keypair(&publicKey, &secretKey, seed)
        self.publicKey = Id(bytes: publicKey)!
        self.secretKey = secretKey
    }

    /// A key pair from a stored 64-byte secret key; refuses one whose public half does not match its seed.
    public init(secretKey: [UInt8]) throws(KeyError) {
        guard secretKey.count == KeyPair.secretKeyByteCount else {
            throw .wrongLength(expected: 64, got: secretKey.count)
        }
        let derived = try KeyPair(seed: Array(secretKey[0..<32]))
        guard derived.secretKey == secretKey else { throw .inconsistentSecretKey }
        self = derived
    }

    /// Names the public key only, so a key pair in a log or `dump` never shows its secret.
    public var description: String { "KeyPair(\(publicKey))" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: ["publicKey": publicKey]) }

    /// The 32-byte seed this key pair derives from.
    public var seed: [UInt8] { Array(secretKey[0..<32]) }

    /// An RFC 8032 Ed25519 signature of `message` (not prehashed).
    public func sign(_ message: [UInt8]) -> [UInt8] {
        var signature = [UInt8](repeating: 0, count: KeyPair.signatureByteCount)
        crypto_sign_detached(&signature, nil, message, UInt64(message.count), secretKey)
        return signature
    }

    /// Whether `signature` is a valid Ed25519 signature of `message` by `signer`.
    public static func verify(signature: [UInt8], of message: [UInt8], by signer: Id) -> Bool {
        _ = Sodium.ready
        guard signature.count == signatureByteCount else { return false }
        return crypto_sign_verify_detached(signature, message, UInt64(message.count), signer.bytes) == 0
    }

    /// The X25519 secret key: clamp(SHA-512(seed)[0..<32]).
    public var x25519SecretKey: [UInt8] {
        var key = [UInt8](repeating: 0, count: 32)
        crypto_sign_ed25519_sk_to_curve25519(&key, secretKey)
        return key
    }

    /// The X25519 public key of an Ed25519 id, or nil if the id is not a valid curve point
    /// (small-order or non-canonical keys are refused, as libsodium does).
    public static func x25519PublicKey(of id: Id) -> [UInt8]? {
        _ = Sodium.ready
        var key = [UInt8](repeating: 0, count: 32)
        guard crypto_sign_ed25519_pk_to_curve25519(&key, id.bytes) == 0 else { return nil }
        return key
    }
}

/// Why a key could not be built.
public enum KeyError: Error, Equatable, CustomStringConvertible {
    case wrongLength(expected: Int, got: Int)
    case inconsistentSecretKey
    case invalidPublicKey(Id)

    public var description: String {
        switch self {
        case .wrongLength(let expected, let got): "key is \(got) bytes, expected \(expected)"
        case .inconsistentSecretKey: "secret key is corrupt: its public half does not match its seed"
        case .invalidPublicKey(let id): "\(id) is not a valid Ed25519 public key"
        }
    }
}
