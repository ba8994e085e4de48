import CarrierCore
import Testing

/// Value ids, signatures, encryption and the storing node's checks (BOSON-WIRE.md §4, error 401).
struct ValueTests {
    let owner = KeyPair.random()
    let recipient = KeyPair.random()

    @Test func immutableValueIdIsTheDataHash() throws {
        let value = Value.immutable(Array("This is a immutable value".utf8))
        #expect(value.kind == .immutable)
        #expect(value.id == Id(bytes: Sodium.sha256(value.data)))
        try value.validate()
    }

    @Test func signedValueVerifiesAndAnyChangeBreaksIt() throws {
        let value = Value.signed(by: owner, sequenceNumber: 7, data: Array("v1".utf8))
        #expect(value.kind == .signed)
        #expect(value.id == owner.publicKey)
        try value.validate()
        var changed = value
        changed.data = Array("v2".utf8)
        #expect(throws: ProtocolError(.invalidValue, "signature does not verify")) { try changed.validate() }
        changed = value
        changed.sequenceNumber = 8
        #expect(!changed.isValid)
    }

    @Test func encryptedValueOnlyItsRecipientCanRead() throws {
        let plaintext = Array("for your eyes only".utf8)
        let value = try Value.encrypted(by: owner, for: recipient.publicKey, sequenceNumber: 3, plaintext: plaintext)
        #expect(value.kind == .encrypted)
        #expect(value.id == owner.publicKey, "the id is the owner key, not combined with rec")
        try value.validate()
        #expect(value.decrypt(with: recipient) == plaintext)
        #expect(value.decrypt(with: KeyPair.random()) == nil)
        var tampered = value
        tampered.nonce![0] ^= 1
        #expect(!tampered.isValid, "the nonce is covered by the signature")
    }

    @Test func sizeLimitsPerKind() throws {
        try Value.immutable([UInt8](repeating: 1, count: 1024)).validate()
        #expect(throws: ProtocolError.self) { try Value.immutable([UInt8](repeating: 1, count: 1025)).validate() }
        try Value.signed(by: owner, sequenceNumber: 0, data: [UInt8](repeating: 1, count: 896)).validate()
        #expect(!Value.signed(by: owner, sequenceNumber: 0, data: [UInt8](repeating: 1, count: 897)).isValid)
        try Value.encrypted(by: owner, for: recipient.publicKey, sequenceNumber: 0, plaintext: [UInt8](repeating: 1, count: 816)).validate()
        #expect(!(try Value.encrypted(by: owner, for: recipient.publicKey, sequenceNumber: 0, plaintext: [UInt8](repeating: 1, count: 817))).isValid)
    }

    @Test func malformedValuesAreInvalidWithCode401() {
        let cases: [Value] = [
            Value(publicKey: nil, recipient: nil, nonce: nil, sequenceNumber: 0, signature: [UInt8](repeating: 0, count: 64), data: [1]),
            Value(publicKey: nil, recipient: nil, nonce: nil, sequenceNumber: 3, signature: nil, data: [1]),
            Value(publicKey: nil, recipient: nil, nonce: nil, sequenceNumber: 0, signature: nil, data: []),
            Value(publicKey: owner.publicKey, recipient: nil, nonce: nil, sequenceNumber: 0, signature: nil, data: [1]),
            Value(publicKey: owner.publicKey, recipient: recipient.publicKey, nonce: nil, sequenceNumber: 0, signature: [UInt8](repeating: 0, count: 64), data: [1]),
        ]
        for value in cases {
            #expect(throws: ProtocolError.self) { try value.validate() }
            do { try value.validate() } catch { #expect(error.code == .invalidValue) }
        }
    }
}

/// Peer records: owner and node signatures, payload limit (BOSON-WIRE.md §5, error 402).
struct PeerInfoTests {
    let owner = KeyPair.random()
    let node = KeyPair.random()

    @Test func recordsWithAndWithoutHostingNodeVerify() throws {
        let plain = PeerInfo.create(owner: owner, endpoint: "https://example.com/service")
        try plain.validate()
        #expect(plain.nodeId == nil && plain.nodeSignature == nil)
        let hosted = PeerInfo.create(owner: owner, node: node, sequenceNumber: 4, endpoint: "tcp://10.0.0.1:9000", extra: [0xA0])
        try hosted.validate()
        #expect(hosted.nodeId == node.publicKey)
    }

    @Test func everySignedFieldIsCovered() {
        let peer = PeerInfo.create(owner: owner, node: node, sequenceNumber: 1, endpoint: "https://a.example/x", extra: [1, 2, 3])
        var variants: [PeerInfo] = []
        var changed = peer; changed.sequenceNumber = 2; variants.append(changed)
        changed = peer; changed.fingerprint &+= 1; variants.append(changed)
        changed = peer; changed.endpoint = "https://b.example/x"; variants.append(changed)
        changed = peer; changed.extra = [1, 2, 4]; variants.append(changed)
        changed = peer; changed.nodeId = KeyPair.random().publicKey; variants.append(changed)
        changed = peer; changed.nodeId = nil; changed.nodeSignature = nil; variants.append(changed)
        for variant in variants {
            #expect(throws: ProtocolError.self) { try variant.validate() }
            do { try variant.validate() } catch { #expect(error.code == .invalidPeer) }
        }
    }

    @Test func endpointIsSignedInNFC() throws {
        // "é" precomposed vs decomposed: one record, one signature.
        let composed = PeerInfo.create(owner: owner, fingerprint: 5, endpoint: "https://caf\u{E9}.example")
        var decomposed = composed
        decomposed.endpoint = "https://cafe\u{301}.example"
        try decomposed.validate()
    }

    @Test func payloadLimitIs768Bytes() {
        let endpoint = "https://example.com/" + String(repeating: "a", count: 700)
        #expect(PeerInfo.create(owner: owner, endpoint: endpoint, extra: [UInt8](repeating: 0, count: 768 - endpoint.utf8.count)).isValid)
        #expect(!PeerInfo.create(owner: owner, endpoint: endpoint, extra: [UInt8](repeating: 0, count: 769 - endpoint.utf8.count)).isValid)
    }
}
