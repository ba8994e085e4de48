import CarrierCore
import Testing

/// Property tests: randomly generated messages of every kind survive CBOR and JSON round trips,
/// and both forms decode to the same message.
struct MessageRoundTripTests {
    @Test func randomMessagesRoundTripThroughBothForms() throws {
        var random = SeededGenerator(seed: 0xB050)
        for index in 0..<2000 {
            let message = randomMessage(kind: index % 13, using: &random)
            let cbor = message.cbor
            let json = message.json
            #expect(try Message.decode(cbor: cbor) == message, "CBOR round trip of \(json)")
            #expect(try Message.decode(json: json) == message, "JSON round trip of \(json)")
            #expect(!json.contains("\n"), "the compact form is one line")
        }
    }

    private func randomId(_ random: inout SeededGenerator) -> Id { Id(bytes: random.bytes(32))! }

    private func randomText(_ random: inout SeededGenerator) -> String {
        let alphabet: [Character] = ["a", "Z", "0", "/", ":", "\"", "\\", "\n", "\t", "\u{01}", "é", "€", "😀", " "]
        return String((0..<Int.random(in: 1...30, using: &random)).map { _ in alphabet.randomElement(using: &random)! })
    }

    private func randomNodes(_ random: inout SeededGenerator) -> NodeLists {
        func list(_ length: Int, _ random: inout SeededGenerator) -> [NodeInfo] {
            (0..<Int.random(in: 0...4, using: &random)).map { _ in
                NodeInfo(id: randomId(&random), address: IPAddress(bytes: random.bytes(length))!, port: UInt16.random(in: 1...65535, using: &random))
            }
        }
        return NodeLists(ipv4: list(4, &random), ipv6: list(16, &random))
    }

    private func randomCAS(_ random: inout SeededGenerator) -> Int32? {
        Bool.random(using: &random) ? nil : Int32.random(in: 0...Int32.max, using: &random)
    }

    private func randomValue(_ random: inout SeededGenerator) -> Value {
        let data = random.bytes(Int.random(in: 1...100, using: &random))
        switch Int.random(in: 0..<3, using: &random) {
        case 0: return .immutable(data)
        case 1:
            return Value(publicKey: randomId(&random), recipient: nil, nonce: nil, sequenceNumber: Int32.random(in: 0...Int32.max, using: &random),
                         signature: random.bytes(64), data: data)
        default:
            return Value(publicKey: randomId(&random), recipient: randomId(&random), nonce: random.bytes(24),
                         sequenceNumber: Int32.random(in: 0...9, using: &random), signature: random.bytes(64), data: data)
        }
    }

    private func randomPeer(_ random: inout SeededGenerator) -> PeerInfo {
        let hosted = Bool.random(using: &random)
        return PeerInfo(peerId: randomId(&random), nodeId: hosted ? randomId(&random) : nil, nodeSignature: hosted ? random.bytes(64) : nil,
                        sequenceNumber: Int32.random(in: 0...Int32.max, using: &random), fingerprint: Int64.random(in: Int64.min...Int64.max, using: &random),
                        endpoint: randomText(&random), extra: Bool.random(using: &random) ? random.bytes(Int.random(in: 1...20, using: &random)) : nil,
                        signature: random.bytes(64))
    }

    private func randomMessage(kind: Int, using random: inout SeededGenerator) -> Message {
        let want = LookupWant(rawValue: UInt8.random(in: 0...7, using: &random))
        let body: Message.Body
        switch kind {
        case 0: body = .pingRequest
        case 1: body = .pingResponse
        case 2: body = .findNodeRequest(FindNodeRequest(target: randomId(&random), want: want))
        case 3: body = .findNodeResponse(FindNodeResponse(nodes: randomNodes(&random), token: Int32.random(in: Int32.min...Int32.max, using: &random)))
        case 4: body = .findValueRequest(FindValueRequest(target: randomId(&random), want: want, cas: randomCAS(&random)))
        case 5:
            var response = FindValueResponse(nodes: randomNodes(&random), value: randomValue(&random))
            if Bool.random(using: &random), !response.nodes.isEmpty { response.value = nil }
            body = .findValueResponse(response)
        case 6: body = .storeValueRequest(StoreValueRequest(token: Int32.random(in: Int32.min...Int32.max, using: &random), cas: randomCAS(&random), value: randomValue(&random)))
        case 7: body = .storeValueResponse
        case 8: body = .findPeerRequest(FindPeerRequest(target: randomId(&random), want: want, cas: randomCAS(&random), expectedCount: Int32.random(in: 0...16, using: &random)))
        case 9: body = .findPeerResponse(FindPeerResponse(nodes: randomNodes(&random), peers: (0..<Int.random(in: 0...3, using: &random)).map { _ in randomPeer(&random) }))
        case 10: body = .announcePeerRequest(AnnouncePeerRequest(token: Int32.random(in: Int32.min...Int32.max, using: &random), cas: randomCAS(&random), peer: randomPeer(&random)))
        case 11: body = .announcePeerResponse
        default:
            let method = Bool.random(using: &random) ? nil : Message.Method.allCases.randomElement(using: &random)
            body = .error(method: method, ErrorBody(code: Int32.random(in: Int32.min...Int32.max, using: &random), message: Bool.random(using: &random) ? "" : randomText(&random)))
        }
        return Message(txid: UInt64.random(in: 1...UInt64(Int64.max), using: &random), version: UInt32.random(in: 0...UInt32.max, using: &random), body: body)
    }
}
