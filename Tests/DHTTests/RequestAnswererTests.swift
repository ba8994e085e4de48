import CarrierCore
import CarrierDHT
import Foundation
import Testing

/// The server side of every request: answers, tokens, storage rules and error codes.
struct RequestAnswererTests {
    let storage: DHTStorage
    let handler: RequestAnswerer
    let localHandler: RequestAnswerer
    var table: RoutingTable
    let sender = NodeInfo(id: KeyPair.random().publicKey, address: IPAddress("10.9.8.7")!, port: 40000)
    let globalSender = NodeInfo(id: KeyPair.random().publicKey, address: IPAddress("8.8.4.4")!, port: 40000)

    init() throws {
        storage = try DHTStorage(path: NSTemporaryDirectory() + "carrier-handler-\(UUID().uuidString).sqlite")
        handler = RequestAnswerer(storage: storage, allowLocal: false)
        localHandler = RequestAnswerer(tokens: handler.tokens, storage: storage, allowLocal: true)
        table = RoutingTable(localId: .random(), now: 0)
        for index in 0..<40 {
            table.recordResponse(from: NodeInfo(id: .random(), address: IPAddress("198.51.\(index).1")!, port: 39001), now: 0)
        }
    }

    private func answer(_ request: Message.Body, from node: NodeInfo? = nil, with handler: RequestAnswerer? = nil,
                        ipv6: RoutingTable? = nil, family: AddressFamily = .ipv4) -> Message.Body? {
        (handler ?? self.handler).answer(request, from: node ?? sender, family: family, ipv4: table, ipv6: ipv6, now: 1_000, wallClock: 1_000)
    }

    private func token(for target: Id, node: NodeInfo? = nil) -> Int32 {
        guard case .findNodeResponse(let response)? = answer(.findNodeRequest(FindNodeRequest(target: target, want: [.ipv4, .token])), from: node) else { return 0 }
        return response.token
    }

    private func errorCode(_ body: Message.Body?) -> Int32? {
        if case .error(_, let error)? = body { return error.code }
        return nil
    }

    @Test func pingAndFindNode() {
        #expect(answer(.pingRequest) == .pingResponse)
        let target = Id.random()
        guard case .findNodeResponse(let response)? = answer(.findNodeRequest(FindNodeRequest(target: target, want: .ipv4))) else {
            Issue.record("no FIND_NODE answer"); return
        }
        #expect(response.nodes.ipv4.map(\.id) == table.closest(to: target, count: 16).map(\.id))
        #expect(response.nodes.ipv6.isEmpty && response.token == 0, "no token unless asked for")
        #expect(token(for: target) != 0)
    }

    @Test func bothFamiliesFitOneDatagram() {
        var ipv6 = RoutingTable(localId: .random(), now: 0)
        for index in 0..<30 { ipv6.recordResponse(from: NodeInfo(id: .random(), address: IPAddress("2001:db8:\(index)::1")!, port: 1), now: 0) }
        guard case .findNodeResponse(let response)? = answer(.findNodeRequest(FindNodeRequest(target: .random(), want: [.ipv4, .ipv6])), ipv6: ipv6) else {
            Issue.record("no answer"); return
        }
        #expect(response.nodes.ipv4.count == 11 && response.nodes.ipv6.count == 11)
        #expect(Message(txid: 1, body: .findNodeResponse(response)).cbor.count + DatagramEnvelope.overhead <= 1400)
    }

    @Test func atMostEightNodesFromOneGlobalSourceUnit() {
        var crowded = RoutingTable(localId: .random(), maxEntriesPerSourceUnit: nil, now: 0)
        for _ in 0..<20 { crowded.recordResponse(from: NodeInfo(id: .random(), address: IPAddress("8.8.8.8")!, port: 1), now: 0) }
        for _ in 0..<20 { crowded.recordResponse(from: NodeInfo(id: .random(), address: IPAddress("127.0.0.1")!, port: 1), now: 0) }
        let answer = handler.answer(.findNodeRequest(FindNodeRequest(target: .random(), want: .ipv4)), from: sender, family: .ipv4,
                                    ipv4: crowded, ipv6: nil, now: 0, wallClock: 0)
        guard case .findNodeResponse(let response)? = answer else { Issue.record("no answer"); return }
        #expect(response.nodes.ipv4.filter { $0.address == IPAddress("8.8.8.8")! }.count <= 8)
        #expect(response.nodes.ipv4.count == 16, "loopback contacts are not bounded")
    }

    @Test func storeNeedsTheTokenForThatValueAndKeepsTheRules() throws {
        let owner = KeyPair.random()
        let value = Value.signed(by: owner, sequenceNumber: 2, data: Array("v2".utf8))
        let store = { (token: Int32, value: Value, cas: Int32?) in
            answer(.storeValueRequest(StoreValueRequest(token: token, cas: cas, value: value)))
        }
        #expect(errorCode(store(12345, value, nil)) == 400)
        #expect(errorCode(store(token(for: Id.random()), value, nil)) == 400, "a token for another target")
        #expect(errorCode(store(token(for: value.id, node: globalSender), value, nil)) == 400, "a token issued to another node")
        if case .error(let method, _)? = store(0, value, nil) { #expect(method == .storeValue) }
        let valid = token(for: value.id)
        #expect(store(valid, value, nil) == .storeValueResponse)
        #expect(errorCode(store(valid, Value.signed(by: owner, sequenceNumber: 5, data: [5]), 1)) == 301)
        var forged = value
        forged.data = [9]
        #expect(errorCode(store(valid, forged, nil)) == 401)
        guard case .findValueResponse(let found)? = answer(.findValueRequest(FindValueRequest(target: value.id, want: .ipv4))) else {
            Issue.record("no FIND_VALUE answer"); return
        }
        #expect(found.value == value && found.nodes.isEmpty)
        guard case .findValueResponse(let newer)? = answer(.findValueRequest(FindValueRequest(target: value.id, want: .ipv4, cas: 3))) else {
            Issue.record("no FIND_VALUE answer"); return
        }
        #expect(newer.value == nil && !newer.nodes.isEmpty, "cas above the stored seq gets nodes")
    }

    @Test func announcementsFromLocalAddressesAreIgnoredUnlessAllowed() {
        let owner = KeyPair.random()
        let peer = PeerInfo.create(owner: owner, endpoint: "tcp://8.8.4.4:7000")
        let announce = { (node: NodeInfo, handler: RequestAnswerer) in
            self.answer(.announcePeerRequest(AnnouncePeerRequest(token: self.token(for: owner.publicKey, node: node), peer: peer)), from: node, with: handler)
        }
        #expect(announce(sender, handler) == nil, "10.9.8.7 is not global unicast: no reply at all")
        #expect(announce(globalSender, handler) == .announcePeerResponse)
        #expect(announce(sender, localHandler) == .announcePeerResponse)
        for fingerprint in 1...12 {
            let more = PeerInfo.create(owner: owner, fingerprint: Int64(fingerprint), endpoint: "tcp://8.8.4.4:\(7000 + fingerprint)")
            _ = answer(.announcePeerRequest(AnnouncePeerRequest(token: token(for: owner.publicKey, node: globalSender), peer: more)), from: globalSender)
        }
        guard case .findPeerResponse(let all)? = answer(.findPeerRequest(FindPeerRequest(target: owner.publicKey, want: .ipv4))),
              case .findPeerResponse(let three)? = answer(.findPeerRequest(FindPeerRequest(target: owner.publicKey, want: .ipv4, expectedCount: 3))) else {
            Issue.record("no FIND_PEER answer"); return
        }
        #expect(all.peers.count == 8, "at most 8 per answer")
        #expect(three.peers.count == 3)
        #expect(all.peers.allSatisfy { $0.isValid })
        #expect(all.nodes.isEmpty && three.nodes.isEmpty, "peers come alone, as the reference sends them")
        guard case .findPeerResponse(let nobody)? = answer(.findPeerRequest(FindPeerRequest(target: .random(), want: .ipv4))) else {
            Issue.record("no FIND_PEER answer"); return
        }
        #expect(nobody.peers.isEmpty && nobody.nodes.ipv4.count == 16, "nodes only when no peer is known")
    }

    @Test func responsesAreNotAnswered() {
        #expect(answer(.pingResponse) == nil)
        #expect(answer(.error(method: .ping, ErrorBody(code: 201))) == nil)
    }
}
