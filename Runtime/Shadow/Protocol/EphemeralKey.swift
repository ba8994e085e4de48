import CSodium
import CarrierCore

/// An X25519 key pair drawn for one connection's handshake and erased with it (forward secrecy:
/// once the session keys are derived, nothing left can recompute them).
final class EphemeralKey {
    let publicKey: [UInt8]
    private var secretKey: [UInt8]

    init() {
        _ = Sodium.ready
        secretKey = Sodium.randomBytes(Int(crypto_scalarmult_SCALARBYTES))
        var publicKey = [UInt8](repeating: 0, count: Int(crypto_scalarmult_BYTES))
        crypto_scalarmult_base(&publicKey, secretKey)
        self.publicKey = publicKey
    }

    deinit {
        secretKey.withUnsafeMutableBytes { sodium_memzero($0.baseAddress, $0.count) }
    }

    /// The Diffie-Hellman secret with `peer`; nil for a low-order point (an all-zero result).
    func sharedSecret(with peer: [UInt8]) -> SecretBytes? {
        guard peer.count == Int(crypto_scalarmult_BYTES) else { return nil }
        var shared = [UInt8](repeating: 0, count: Int(crypto_scalarmult_BYTES))
        guard crypto_scalarmult(&shared, secretKey, peer) == 0 else { return nil }
        return SecretBytes(shared)
    }
}
