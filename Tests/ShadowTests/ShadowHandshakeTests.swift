import CarrierCore
@testable import CarrierShadow
import NIOCore
import Testing

/// The handshake (docs/shadow.md, "Handshake"): both sides end with the same keys, each proves its
/// node key, and any altered, replayed or misdirected step is refused with its reason.
struct ShadowHandshakeTests {
    private let client = KeyPair.random()
    private let server = KeyPair.random()

    private func handshake(offer: UInt8 = ShadowCipher.localOffer) throws -> (client: SessionKeys, server: SessionKeys) {
        let start = ClientHandshake(identity: client, server: server.publicKey, offer: offer)
        let answer = try ServerHandshake(hello: start.hello, server: server.publicKey) { server.sign($0) }
        #expect(answer.client == client.publicKey)
        let (proof, clientKeys) = try start.finish(reply: answer.reply)
        return (clientKeys, try answer.finish(proof: proof))
    }

    @Test(arguments: ShadowCipher.allCases.filter { ShadowCipher.localOffer & $0.rawValue != 0 })
    func bothSidesDeriveTheSameKeysPerDirection(cipher: ShadowCipher) throws {
        let (clientKeys, serverKeys) = try handshake(offer: cipher.rawValue)
        #expect(clientKeys.cipher == cipher && serverKeys.cipher == cipher)
        let message = Array("from the node behind NAT".utf8)
        let sealed = seal(message, clientKeys.sending)
        #expect(open(sealed, serverKeys.receiving) == message)
        let back = seal(message, serverKeys.sending)
        #expect(back != sealed, "each direction has its own key")
        #expect(open(back, clientKeys.receiving) == message)
    }

    @Test func aNewHandshakeGivesNewKeys() throws {
        let first = try handshake(), second = try handshake()
        let sealed = seal([1, 2, 3], first.client.sending)
        #expect(open(sealed, second.server.receiving) == nil, "ephemeral keys: no two connections share keys")
    }

    @Test func aServerWithAnotherKeyIsRefusedByTheClient() throws {
        let impostor = KeyPair.random()
        let start = ClientHandshake(identity: client, server: server.publicKey)
        // The impostor answers as itself, or claims to be the expected server with its own key.
        let asItself = try ServerHandshake(hello: start.hello, server: impostor.publicKey) { impostor.sign($0) }
        #expect(throws: HandshakeError.badSignature) { try start.finish(reply: asItself.reply) }
        let claiming = try ServerHandshake(hello: start.hello, server: server.publicKey) { impostor.sign($0) }
        #expect(throws: HandshakeError.badSignature) { try start.finish(reply: claiming.reply) }
    }

    @Test func aClientThatDoesNotHoldItsKeyIsRefused() throws {
        // A hello naming another node's id, with a proof signed by the sender's own key.
        let victim = KeyPair.random()
        let start = ClientHandshake(identity: client, server: server.publicKey)
        var hello = start.hello
        hello.replaceSubrange(6..<38, with: victim.publicKey.bytes)
        let answer = try ServerHandshake(hello: hello, server: server.publicKey) { server.sign($0) }
        #expect(answer.client == victim.publicKey)
        // The client's finish checks the transcript of its own hello, so its signature is over
        // another transcript than the server's.
        #expect(throws: HandshakeError.badSignature) { try start.finish(reply: answer.reply) }
        // A proof over the very transcript the server holds, signed by the sender's key, is not the victim's.
        let transcript = HandshakeLayout.transcript(hello: hello, server: server.publicKey, replyHead: answer.reply[0..<33])
        #expect(throws: HandshakeError.badSignature) { try answer.finish(proof: client.sign(HandshakeLayout.clientLabel + transcript)) }
    }

    @Test func aProofFromAnotherConnectionIsRefused() throws {
        let first = ClientHandshake(identity: client, server: server.publicKey)
        let firstAnswer = try ServerHandshake(hello: first.hello, server: server.publicKey) { server.sign($0) }
        let (proof, _) = try first.finish(reply: firstAnswer.reply)
        // The same hello replayed gets a new server key, so the old proof does not fit.
        let replayed = try ServerHandshake(hello: first.hello, server: server.publicKey) { server.sign($0) }
        #expect(throws: HandshakeError.badSignature) { try replayed.finish(proof: proof) }
        #expect(throws: Never.self) { try firstAnswer.finish(proof: proof) }
    }

    @Test func alteredReplyBytesAreRefused() throws {
        let start = ClientHandshake(identity: client, server: server.publicKey)
        let answer = try ServerHandshake(hello: start.hello, server: server.publicKey) { server.sign($0) }
        for index in [1, 20, 40, 96] {
            var reply = answer.reply
            reply[index] ^= 0x01
            #expect(throws: HandshakeError.badSignature) { try start.finish(reply: reply) }
        }
    }

    @Test func malformedHellosAreRefusedWithTheirReason() throws {
        let hello = ClientHandshake(identity: client, server: server.publicKey).hello
        func refusal(_ bytes: [UInt8], localOffer: UInt8 = ShadowCipher.localOffer) -> HandshakeError? {
            do {
                _ = try ServerHandshake(hello: bytes, server: server.publicKey, localOffer: localOffer) { server.sign($0) }
                return nil
            } catch { return error }
        }
        var magic = hello; magic[0] = 0x47
        #expect(refusal(magic) == .badMagic)
        var version = hello; version[4] = 2
        #expect(refusal(version) == .unsupportedVersion(2))
        var offer = hello; offer[5] = 0x80
        #expect(refusal(offer) == .noCommonCipher(offer: 0x80))
        #expect(refusal(hello, localOffer: 0) == .noCommonCipher(offer: hello[5]))
        var zeroKey = hello; zeroKey.replaceSubrange(38..<70, with: [UInt8](repeating: 0, count: 32))
        #expect(refusal(zeroKey) == .weakKey)
        #expect(refusal(Array(hello.dropLast())) == .wrongLength(expected: 70, got: 69))
        #expect(refusal(hello)?.counterName == nil)
        #expect(HandshakeError.badSignature.counterName == "handshake_signature")
    }

    @Test func theSupernodePicksAES256GCMOnlyWhenBothHaveIt() {
        #expect(ShadowCipher.choose(offer: 0b11, local: 0b11) == .aes256GCM)
        #expect(ShadowCipher.choose(offer: 0b01, local: 0b11) == .chaCha20Poly1305)
        #expect(ShadowCipher.choose(offer: 0b11, local: 0b01) == .chaCha20Poly1305)
        #expect(ShadowCipher.choose(offer: 0b10, local: 0b01) == nil)
    }

    private func seal(_ message: [UInt8], _ key: SealingKey) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: message.count + ShadowCipher.tagByteCount)
        message.withUnsafeBytes { input in
            output.withUnsafeMutableBytes { try! key.seal(input, additional: [0, 0, 0, 1], into: $0) }
        }
        return output
    }

    private func open(_ sealed: [UInt8], _ key: SealingKey) -> [UInt8]? {
        var output = [UInt8](repeating: 0, count: sealed.count - ShadowCipher.tagByteCount)
        let opened = sealed.withUnsafeBytes { input in
            output.withUnsafeMutableBytes { (try? key.open(input, additional: [0, 0, 0, 1], into: $0)) != nil }
        }
        return opened ? output : nil
    }
}
