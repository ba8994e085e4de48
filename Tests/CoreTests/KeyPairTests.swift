import CarrierCore
import Testing

/// Ed25519 key pairs, X25519 conversion and signatures (BOSON-WIRE.md §1 and §8).
struct KeyPairTests {
    @Test func seedsGiveTheReferencePublicKeys() throws {
        let zero = try KeyPair(seed: [UInt8](repeating: 0, count: 32))
        #expect(zero.publicKey.hex == "3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29")
        let ones = try KeyPair(seed: [UInt8](repeating: 0xFF, count: 32))
        #expect(ones.publicKey.hex == "76a1592044a6e4f511265bca73a604d90b0529d1df602be30a19a9257660d1f5")
    }

    @Test func x25519ConversionMatchesTheSheet() throws {
        let zero = try KeyPair(seed: [UInt8](repeating: 0, count: 32))
        #expect(KeyPair.x25519PublicKey(of: zero.publicKey).map(Hex.encode) == "5bf55c73b82ebe22be80f3430667af570fae2556a6415e6b30d4065300aa947d")
        let ones = try KeyPair(seed: [UInt8](repeating: 0xFF, count: 32))
        #expect(KeyPair.x25519PublicKey(of: ones.publicKey).map(Hex.encode) == "d1fa3f01826bd8b78e057c086c7b22c7ad4358ca918099cd7b7e5d3acd7e285b")
    }

    @Test func signAndVerify() {
        let keyPair = KeyPair.random()
        let message = Array("carrier".utf8)
        let signature = keyPair.sign(message)
        #expect(KeyPair.verify(signature: signature, of: message, by: keyPair.publicKey))
        #expect(!KeyPair.verify(signature: signature, of: message + [0], by: keyPair.publicKey))
        #expect(!KeyPair.verify(signature: signature, of: message, by: KeyPair.random().publicKey))
        #expect(!KeyPair.verify(signature: Array(signature.dropLast()), of: message, by: keyPair.publicKey))
    }

    @Test func secretKeyRoundTripAndCorruption() throws {
        let keyPair = KeyPair.random()
        #expect(try KeyPair(secretKey: keyPair.secretKey).publicKey == keyPair.publicKey)
        var corrupt = keyPair.secretKey
        corrupt[40] ^= 1
        #expect(throws: KeyError.inconsistentSecretKey) { try KeyPair(secretKey: corrupt) }
        #expect(throws: KeyError.wrongLength(expected: 64, got: 63)) { try KeyPair(secretKey: Array(keyPair.secretKey.dropLast())) }
        #expect(throws: KeyError.wrongLength(expected: 32, got: 31)) { try KeyPair(seed: [UInt8](repeating: 1, count: 31)) }
    }

    @Test func sharedKeysAgreeBothWays() throws {
        let alice = KeyPair.random(), bob = KeyPair.random()
        let nonce = Sodium.randomBytes(24)
        let sealed = try SharedKey(between: alice, and: bob.publicKey).seal(Array("hello".utf8), nonce: nonce)
        #expect(try SharedKey(between: bob, and: alice.publicKey).open(sealed, nonce: nonce) == Array("hello".utf8))
        #expect(try SharedKey(between: bob, and: KeyPair.random().publicKey).open(sealed, nonce: nonce) == nil)
    }
}
