import CSodium

/// A precomputed crypto_box shared key (X25519 + HSalsa20) between our key pair and a peer's id,
/// sealing with XSalsa20-Poly1305 in combined mode (MAC ‖ ciphertext), as the Boson envelope and
/// encrypted values do.
public struct SharedKey: Sendable {
    /// Bytes the MAC adds to a sealed message.
    public static let macByteCount = Int(crypto_box_MACBYTES)
    /// Length of a crypto_box nonce.
    public static let nonceByteCount = Int(crypto_box_NONCEBYTES)

    let key: [UInt8]

    /// The shared key between `keyPair` and the holder of `peer`; throws if `peer` is not a valid key.
    public init(between keyPair: KeyPair, and peer: Id) throws(KeyError) {
        guard let peerKey = KeyPair.x25519PublicKey(of: peer) else { throw .invalidPublicKey(peer) }
        var key = [UInt8](repeating: 0, count: Int(crypto_box_BEFORENMBYTES))
        guard crypto_box_beforenm(&key, peerKey, keyPair.x25519SecretKey) == 0 else { throw .invalidPublicKey(peer) }
        self.key = key
    }

    /// MAC ‖ ciphertext of `plaintext` under `nonce` (24 bytes).
    public func seal(_ plaintext: [UInt8], nonce: [UInt8]) -> [UInt8] {
        precondition(nonce.count == SharedKey.nonceByteCount, "crypto_box nonce must be 24 bytes")
        var output = [UInt8](repeating: 0, count: plaintext.count + SharedKey.macByteCount)
        crypto_box_easy_afternm(&output, plaintext, UInt64(plaintext.count), nonce, key)
        return output
    }

    /// Seals `plaintext` straight into `output`, which must hold `plaintext.count + macByteCount` bytes.
    public func seal(_ plaintext: UnsafeRawBufferPointer, nonce: UnsafePointer<UInt8>, into output: UnsafeMutableRawBufferPointer) {
        precondition(output.count == plaintext.count + SharedKey.macByteCount)
        key.withUnsafeBufferPointer { keyBytes in
            _ = crypto_box_easy_afternm(
                output.baseAddress!.assumingMemoryBound(to: UInt8.self),
                plaintext.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(plaintext.count),
                nonce, keyBytes.baseAddress!)
        }
    }

    /// The plaintext of MAC ‖ ciphertext, or nil if it was not sealed with this key and nonce (or
    /// the nonce is not 24 bytes).
    public func open(_ sealed: [UInt8], nonce: [UInt8]) -> [UInt8]? {
        guard nonce.count == SharedKey.nonceByteCount else { return nil }
        return sealed.withUnsafeBytes { sealedBytes in
            nonce.withUnsafeBufferPointer { open(sealedBytes, nonce: $0.baseAddress!) }
        }
    }

    /// The plaintext of MAC ‖ ciphertext at `sealed`, or nil if authentication fails.
    public func open(_ sealed: UnsafeRawBufferPointer, nonce: UnsafePointer<UInt8>) -> [UInt8]? {
        guard sealed.count >= SharedKey.macByteCount else { return nil }
        var plaintext = [UInt8](repeating: 0, count: sealed.count - SharedKey.macByteCount)
        let status = key.withUnsafeBufferPointer { keyBytes in
            crypto_box_open_easy_afternm(
                &plaintext, sealed.baseAddress!.assumingMemoryBound(to: UInt8.self), UInt64(sealed.count),
                nonce, keyBytes.baseAddress!)
        }
        return status == 0 ? plaintext : nil
    }
}
