import CarrierCore
import Testing

/// Forms the reference vectors do not include, written from the rules of BOSON-WIRE.md §3 and
/// checked byte for byte, plus the omission rules for optional fields.
struct MessageFormTests {
    static let version: UInt32 = 1_330_774_017

    @Test func bodylessResponsesAndMethodZeroErrors() throws {
        let cases: [(Message.Body, String, String)] = [
            (.pingResponse, "bf6179184161740a61761a4f520001ff", #"{"y":65,"t":10,"v":1330774017}"#),
            (.announcePeerResponse, "bf6179184361740a61761a4f520001ff", #"{"y":67,"t":10,"v":1330774017}"#),
            (.error(method: nil, ErrorBody(code: 204, message: "Method unknown")),
             "bf6179006174 0a6165bf616318cc616d6e4d6574686f6420756e6b6e6f776eff61761a4f520001ff".replacingOccurrences(of: " ", with: ""),
             #"{"y":0,"t":10,"e":{"c":204,"m":"Method unknown"},"v":1330774017}"#),
        ]
        for (body, cbor, json) in cases {
            let message = Message(txid: 10, version: Self.version, body: body)
            #expect(Hex.encode(message.cbor) == cbor)
            #expect(message.json == json)
            #expect(try Message.decode(cbor: Hex.decode(cbor)!) == message)
            #expect(try Message.decode(json: json) == message)
        }
    }

    @Test func versionZeroIsOmitted() throws {
        let message = Message(txid: 1, version: 0, body: .pingRequest)
        #expect(message.json == #"{"y":33,"t":1}"#)
        #expect(try Message.decode(cbor: message.cbor) == message)
    }

    @Test func negativeTokensAreEchoedExactly() throws {
        let response = Message(txid: 5, body: .findNodeResponse(FindNodeResponse(nodes: NodeLists(), token: -123_456)))
        #expect(response.json.contains(#""tok":-123456"#))
        #expect(try Message.decode(cbor: response.cbor) == response)
    }

    @Test func findPeerResponseWithPeerRecords() throws {
        let owner = KeyPair.random(), node = KeyPair.random()
        let peers = [
            PeerInfo.create(owner: owner, node: node, sequenceNumber: 2, endpoint: "https://example.com/svc", extra: [0xA1, 0x61, 0x74, 0x01]),
            PeerInfo.create(owner: owner, fingerprint: 0, endpoint: "tcp://192.0.2.1:4000"),
        ]
        let message = Message(txid: 77, body: .findPeerResponse(FindPeerResponse(peers: peers)))
        let decoded = try Message.decode(cbor: message.cbor)
        #expect(decoded == message)
        #expect(try Message.decode(json: message.json) == message)
        guard case .findPeerResponse(let response) = decoded.body else { Issue.record("wrong body"); return }
        for peer in response.peers { try peer.validate() }
        #expect(!message.json.contains(#""f":0"#), "f = 0 is omitted in a result map")
    }

    @Test func ipv6AddressesUseTheReferenceTextForm() throws {
        let node = NodeInfo(id: .zero, address: IPAddress("2001:db8::1")!, port: 39001)
        let message = Message(txid: 3, body: .findNodeResponse(FindNodeResponse(nodes: NodeLists(ipv6: [node]))))
        #expect(message.json.contains(#""2001:db8:0:0:0:0:0:1""#))
        #expect(try Message.decode(json: message.json) == message)
    }
}
