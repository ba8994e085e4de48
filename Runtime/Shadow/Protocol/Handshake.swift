import CSodium
import CarrierCore

/// The three handshake messages' layout (docs/shadow.md, "Handshake"): the client's hello, the
/// supernode's reply, the client's proof. Fixed sizes: a reader knows how many bytes to wait for.
public enum HandshakeLayout {
    static let magic = Array("CSH1".utf8)
    static let version: UInt8 = 1
    /// magic (4) · version (1) · cipher offer (1) · client id (32) · ephemeral key (32).
    public static let helloByteCount = 70
    /// cipher (1) · ephemeral key (32) · signature (64).
    public static let replyByteCount = 97
    /// signature (64).
    public static let proofByteCount = 64
    static let serverLabel = Array("carrier-shadow/1 server".utf8)
    static let clientLabel = Array("carrier-shadow/1 client".utf8)

    /// `H`: BLAKE2b-256 of the hello, the supernode's id and the reply's cipher and key.
    static func transcript(hello: [UInt8], server: Id, replyHead: ArraySlice<UInt8>) -> [UInt8] {
        var input = hello
        input += server.bytes
        input += replyHead
        var hash = [UInt8](repeating: 0, count: 32)
        crypto_generichash(&hash, hash.count, input, UInt64(input.count), nil, 0)
        return hash
    }
}

/// The client's side of a handshake with the supernode `server` (an id it found on the DHT).
///
/// ```swift
/// let handshake = ClientHandshake(identity: me, server: supernodeId)
/// send(handshake.hello)
/// let (proof, keys) = try handshake.finish(reply: try read(HandshakeLayout.replyByteCount))
/// send(proof)   // then sealed frames under `keys`
/// ```
public struct ClientHandshake {
    public let hello: [UInt8]
    private let identity: KeyPair
    private let server: Id
    private let ephemeral = EphemeralKey()
    private let offer: UInt8

    public init(identity: KeyPair, server: Id, offer: UInt8 = ShadowCipher.localOffer) {
        self.identity = identity
        self.server = server
        self.offer = offer
        hello = HandshakeLayout.magic + [HandshakeLayout.version, offer] + identity.publicKey.bytes + ephemeral.publicKey
    }

    /// Checks the supernode's reply (its signature must be `server`'s) and returns the proof to
    /// send back and the session keys.
    public func finish(reply: [UInt8]) throws(HandshakeError) -> (proof: [UInt8], keys: SessionKeys) {
        guard reply.count == HandshakeLayout.replyByteCount else {
            throw .wrongLength(expected: HandshakeLayout.replyByteCount, got: reply.count)
        }
        guard let cipher = ShadowCipher(rawValue: reply[0]), offer & cipher.offerBit != 0 else { throw .noCommonCipher(offer: offer) }
        let transcript = HandshakeLayout.transcript(hello: hello, server: server, replyHead: reply[0..<33])
        let signature = Array(reply[33..<97])
        guard KeyPair.verify(signature: signature, of: HandshakeLayout.serverLabel + transcript, by: server) else { throw .badSignature }
        guard let shared = ephemeral.sharedSecret(with: Array(reply[1..<33])) else { throw .weakKey }
        let proof = identity.sign(HandshakeLayout.clientLabel + transcript)
        return (proof, SessionKeys(shared: shared, transcript: transcript, cipher: cipher, isClient: true))
    }
}

/// The supernode's side: reads a hello, answers it (signed by `sign`, the node key's signature:
/// the host's `sign` in a plugin), then checks the client's proof.
public struct ServerHandshake: Sendable {
    /// The client's node id, as its hello claims it (proven only once `finish` returns).
    public let client: Id
    /// What to send back.
    public let reply: [UInt8]
    private let transcript: [UInt8]
    private let cipher: ShadowCipher
    private let shared: SecretBytes

    public init(hello: [UInt8], server: Id, localOffer: UInt8 = ShadowCipher.localOffer,
                sign: ([UInt8]) throws -> [UInt8]) throws(HandshakeError) {
        guard hello.count == HandshakeLayout.helloByteCount else {
            throw .wrongLength(expected: HandshakeLayout.helloByteCount, got: hello.count)
        }
        guard hello[0..<4].elementsEqual(HandshakeLayout.magic) else { throw .badMagic }
        guard hello[4] == HandshakeLayout.version else { throw .unsupportedVersion(hello[4]) }
        guard let cipher = ShadowCipher.choose(offer: hello[5], local: localOffer) else { throw .noCommonCipher(offer: hello[5]) }
        guard let client = Id(bytes: Array(hello[6..<38])), KeyPair.x25519PublicKey(of: client) != nil else { throw .invalidId }
        let ephemeral = EphemeralKey()
        guard let shared = ephemeral.sharedSecret(with: Array(hello[38..<70])) else { throw .weakKey }
        let head = [cipher.rawValue] + ephemeral.publicKey
        let transcript = HandshakeLayout.transcript(hello: hello, server: server, replyHead: head[...])
        let signature: [UInt8]
        do { signature = try sign(HandshakeLayout.serverLabel + transcript) } catch { throw .badSignature }
        self.client = client
        self.reply = head + signature
        self.transcript = transcript
        self.cipher = cipher
        self.shared = shared
    }

    /// Checks the client's proof (its signature over this handshake) and returns the session keys.
    public func finish(proof: [UInt8]) throws(HandshakeError) -> SessionKeys {
        guard proof.count == HandshakeLayout.proofByteCount else {
            throw .wrongLength(expected: HandshakeLayout.proofByteCount, got: proof.count)
        }
        guard KeyPair.verify(signature: proof, of: HandshakeLayout.clientLabel + transcript, by: client) else { throw .badSignature }
        return SessionKeys(shared: shared, transcript: transcript, cipher: cipher, isClient: false)
    }
}
