import CSodium
import CarrierCore

/// The AEAD a connection's frames are sealed with, agreed in the handshake: the client offers what
/// it has, the supernode picks (docs/shadow.md, "Handshake").
public enum ShadowCipher: UInt8, Sendable, CaseIterable {
    /// ChaCha20-Poly1305 (IETF): every machine has it.
    case chaCha20Poly1305 = 1
    /// AES-256-GCM: faster where the CPU has AES-NI (libsodium offers it only there).
    case aes256GCM = 2

    /// The offer bit of this cipher in the client's hello.
    var offerBit: UInt8 { rawValue }

    /// The ciphers this machine can run, as the hello's offer byte.
    public static var localOffer: UInt8 {
        _ = Sodium.ready
        return crypto_aead_aes256gcm_is_available() == 1 ? chaCha20Poly1305.offerBit | aes256GCM.offerBit : chaCha20Poly1305.offerBit
    }

    /// The supernode's pick from a client's offer (intersected with its own): AES-256-GCM when both
    /// have it; nil when they share none.
    static func choose(offer: UInt8, local: UInt8 = localOffer) -> ShadowCipher? {
        let common = offer & local
        if common & aes256GCM.offerBit != 0 { return .aes256GCM }
        if common & chaCha20Poly1305.offerBit != 0 { return .chaCha20Poly1305 }
        return nil
    }

    /// Bytes the authentication tag adds to each frame (16 for both).
    static let tagByteCount = 16
    /// Key and nonce sizes (the same for both ciphers).
    static let keyByteCount = 32
    static let nonceByteCount = 12
}
