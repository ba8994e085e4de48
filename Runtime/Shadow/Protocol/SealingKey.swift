import CSodium
import CarrierCore

/// One direction's key of a connection and the number of the next frame under it, which is the
/// frame's nonce: frames are sealed (or opened) in order, and a number is never used twice.
/// Not thread-safe: each direction belongs to one channel handler, on its event loop.
final class SealingKey {
    private var key: [UInt8]
    private let cipher: ShadowCipher
    private(set) var nextFrame: UInt64 = 0

    init(_ key: [UInt8], cipher: ShadowCipher) {
        precondition(key.count == ShadowCipher.keyByteCount)
        self.key = key
        self.cipher = cipher
    }

    deinit {
        key.withUnsafeMutableBytes { sodium_memzero($0.baseAddress, $0.count) }
    }

    /// The nonce of the next frame: its number as 12 little-endian bytes.
    private func takeNonce() throws(FrameError) -> [UInt8] {
        guard nextFrame < UInt64(Int64.max) else { throw .exhausted }
        var nonce = [UInt8](repeating: 0, count: ShadowCipher.nonceByteCount)
        for index in 0..<8 { nonce[index] = UInt8(truncatingIfNeeded: nextFrame >> (8 * UInt64(index))) }
        nextFrame += 1
        return nonce
    }

    /// Seals `plaintext` with `additional` authenticated alongside, into `output` (which must hold
    /// `plaintext.count + tagByteCount` bytes).
    func seal(_ plaintext: UnsafeRawBufferPointer, additional: [UInt8], into output: UnsafeMutableRawBufferPointer) throws(FrameError) {
        let nonce = try takeNonce()
        var written: UInt64 = 0
        let status: Int32 = switch cipher {
        case .chaCha20Poly1305:
            crypto_aead_chacha20poly1305_ietf_encrypt(output.baseAddress!.assumingMemoryBound(to: UInt8.self), &written,
                                                      plaintext.baseAddress!.assumingMemoryBound(to: UInt8.self), UInt64(plaintext.count),
                                                      additional, UInt64(additional.count), nil, nonce, key)
        case .aes256GCM:
            crypto_aead_aes256gcm_encrypt(output.baseAddress!.assumingMemoryBound(to: UInt8.self), &written,
                                          plaintext.baseAddress!.assumingMemoryBound(to: UInt8.self), UInt64(plaintext.count),
                                          additional, UInt64(additional.count), nil, nonce, key)
        }
        precondition(status == 0 && Int(written) == plaintext.count + ShadowCipher.tagByteCount)
    }

    /// Opens `sealed` in place of `output` (`sealed.count - tagByteCount` bytes); throws if it
    /// does not authenticate under this key, this frame number and `additional`.
    func open(_ sealed: UnsafeRawBufferPointer, additional: [UInt8], into output: UnsafeMutableRawBufferPointer) throws(FrameError) {
        guard sealed.count >= ShadowCipher.tagByteCount else { throw .forged }
        let nonce = try takeNonce()
        var written: UInt64 = 0
        let status: Int32 = switch cipher {
        case .chaCha20Poly1305:
            crypto_aead_chacha20poly1305_ietf_decrypt(output.baseAddress!.assumingMemoryBound(to: UInt8.self), &written, nil,
                                                      sealed.baseAddress!.assumingMemoryBound(to: UInt8.self), UInt64(sealed.count),
                                                      additional, UInt64(additional.count), nonce, key)
        case .aes256GCM:
            crypto_aead_aes256gcm_decrypt(output.baseAddress!.assumingMemoryBound(to: UInt8.self), &written, nil,
                                          sealed.baseAddress!.assumingMemoryBound(to: UInt8.self), UInt64(sealed.count),
                                          additional, UInt64(additional.count), nonce, key)
        }
        guard status == 0 else { throw .forged }
    }
}
