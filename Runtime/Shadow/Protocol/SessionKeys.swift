import CSodium
import CarrierCore

/// A connection's two keys, one per direction, derived from the handshake: `sending` seals what
/// this side writes, `receiving` opens what it reads.
public final class SessionKeys {
    let sending: SealingKey
    let receiving: SealingKey
    /// The cipher both keys use.
    public let cipher: ShadowCipher

    /// `BLAKE2b-512(key: shared, transcript)` split into the client-to-server and server-to-client
    /// keys; `shared` is erased.
    init(shared: SecretBytes, transcript: [UInt8], cipher: ShadowCipher, isClient: Bool) {
        var material = [UInt8](repeating: 0, count: 2 * ShadowCipher.keyByteCount)
        crypto_generichash(&material, material.count, transcript, UInt64(transcript.count), shared.bytes, shared.bytes.count)
        shared.erase()
        let clientToServer = Array(material[0..<32]), serverToClient = Array(material[32..<64])
        material.withUnsafeMutableBytes { sodium_memzero($0.baseAddress, $0.count) }
        sending = SealingKey(isClient ? clientToServer : serverToClient, cipher: cipher)
        receiving = SealingKey(isClient ? serverToClient : clientToServer, cipher: cipher)
        self.cipher = cipher
    }
}
