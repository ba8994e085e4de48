import CarrierCore
import CarrierDHT
import Foundation
import Testing

/// The server side of every request: answers, tokens, storage rules and error codes.
@Suite(.timeLimit(.minutes(1)))  // a write whose answer never comes fails rather than hangs
struct RequestAnswererTests {
    let storage: DHTStorage
    let handler: RequestAnswerer
    let localHandler: RequestAnswerer
    var table: RoutingTable
    let sender = NodeInfo(id: KeyPair.random().publicKey, address: IPAddress("10.9.8.7")!, port: 40000)
    let globalSender = NodeInfo(id: KeyPair.random().publicKey, address: IPAddress("8.8.4.4")!, port: 40000)

    init() throws {
        storage = try DHTStorage(path: NSTemporaryDirectory() + "carrier-handler-\(UUID().uuidString).sqlite", owner: .random())
        handler = RequestAnswerer(storage: storage, allowLocal: false)
        localHandler = RequestAnswerer(tokens: handler.tokens, storage: storage, allowLocal: true)
        table = RoutingTable(localId: .random(), now: 0)
        for index in 0..<40 {
            table.recordResponse(from: NodeInfo(id: .random(), address: IPAddress("198.51.\(index).1")!, port: 39001), now: 0)
        }
    }

    /// The answer to `request`: the one given at once, or for a write the one given once durable.
    private func answer(_ request: Message.Body, from node: NodeInfo? = nil, with handler: RequestAnswerer? = nil,
                        ipv6: RoutingTable? = nil, family: AddressFamily = .ipv4) async -> Message.Body? {
        let (durable, written) = AsyncStream.makeStream(of: Message.Body.self)
        let outcome = (handler ?? self.handler).answer(request, from: node ?? sender, family: family, ipv4: table, ipv6: ipv6,
                                                       now: 1_000, wallClock: 1_000) { written.yield($0) }
        switch outcome {
        case .reply(let body): return body
        case .afterWrite: return await durable.first { _ in true }
        case .none: return nil
        }
    }

    private func token(for target: Id, node: NodeInfo? = nil) async -> Int32 {
        guard case .findNodeResponse(let response)? = await answer(.findNodeRequest(FindNodeRequest(target: target, want: [.ipv4, .token])), from: node) else { return 0 }
        return response.token
    }

    private func errorCode(_ body: Message.Body?) -> Int32? {
        if case .error(_, let error)? = body { return error.code }
        return nil
    }

    @Test func pingAndFindNode() async {
        #expect(await answer(.pingRequest) == .pingResponse)
        let target = Id.random()
        guard case .findNodeResponse(let response)? = await answer(.findNodeRequest(FindNodeRequest(target: target, want: .ipv4))) else {
            Issue.record("no FIND_NODE answer"); return
        }
        #expect(response.nodes.ipv4.map(\.id) == table.closest(to: target, count: 16).map(\.id))
        #expect(response.nodes.ipv6.isEmpty && response.token == 0, "no token unless asked for")
        #expect(await token(for: target) != 0)
    }

    @Test func bothFamiliesFitOneDatagram() async {
        var ipv6 = RoutingTable(localId: .random(), now: 0)
        for index in 0..<30 { ipv6.recordResponse(from: NodeInfo(id: .random(), address: IPAddress("2001:db8:\(index)::1")!, port: 1), now: 0) }
        guard case .findNodeResponse(let response)? = await answer(.findNodeRequest(FindNodeRequest(target: .random(), want: [.ipv4, .ipv6])), ipv6: ipv6) else {
            Issue.record("no answer"); return
        }
        #expect(response.nodes.ipv4.count == 11 && response.nodes.ipv6.count == 11)
        #expect(Message(txid: 1, body: .findNodeResponse(response)).cbor.count + DatagramEnvelope.overhead <= 1400)
    }

    @Test func atMostEightNodesFromOneGlobalSourceUnit() async {
        var crowded = RoutingTable(localId: .random(), maxEntriesPerSourceUnit: nil, now: 0)
        for _ in 0..<20 { crowded.recordResponse(from: NodeInfo(id: .random(), address: IPAddress("8.8.8.8")!, port: 1), now: 0) }
        for _ in 0..<20 { crowded.recordResponse(from: NodeInfo(id: .random(), address: IPAddress("127.0.0.1")!, port: 1), now: 0) }
        let answer = handler.answer(.findNodeRequest(FindNodeRequest(target: .random(), want: .ipv4)), from: sender, family: .ipv4,
                                    ipv4: crowded, ipv6: nil, now: 0, wallClock: 0) { _ in Issue.record("a FIND_NODE is answered at once") }
        guard case .reply(.findNodeResponse(let response)) = answer else { Issue.record("no answer"); return }
        #expect(response.nodes.ipv4.filter { $0.address == IPAddress("8.8.8.8")! }.count <= 8)
        #expect(response.nodes.ipv4.count == 16, "loopback contacts are not bounded")
    }

    @Test func storeNeedsTheTokenForThatValueAndKeepsTheRules() async throws {
        let owner = KeyPair.random()
        let value = Value.signed(by: owner, sequenceNumber: 2, data: Array("v2".utf8))
        let store = { (token: Int32, value: Value, cas: Int32?) in
            await answer(.storeValueRequest(StoreValueRequest(token: token, cas: cas, value: value)))
        }
        #expect(errorCode(await store(12345, value, nil)) == 400)
        #expect(errorCode(await store(await token(for: Id.random()), value, nil)) == 400, "a token for another target")
        #expect(errorCode(await store(await token(for: value.id, node: globalSender), value, nil)) == 400, "a token issued to another node")
        if case .error(let method, _)? = await store(0, value, nil) { #expect(method == .storeValue) }
        let valid = await token(for: value.id)
        #expect(await store(valid, value, nil) == .storeValueResponse)
        #expect(errorCode(await store(valid, Value.signed(by: owner, sequenceNumber: 5, data: [5]), 1)) == 301)
        var forged = value
        forged.data = [9]
        #expect(errorCode(await store(valid, forged, nil)) == 401)
        guard case .findValueResponse(let found)? = await answer(.findValueRequest(FindValueRequest(target: value.id, want: .ipv4))) else {
            Issue.record("no FIND_VALUE answer"); return
        }
        #expect(found.value == value && found.nodes.isEmpty)
        guard case .findValueResponse(let newer)? = await answer(.findValueRequest(FindValueRequest(target: value.id, want: .ipv4, cas: 3))) else {
            Issue.record("no FIND_VALUE answer"); return
        }
        #expect(newer.value == nil && !newer.nodes.isEmpty, "cas above the stored seq gets nodes")
    }

    @Test func announcementsFromLocalAddressesAreIgnoredUnlessAllowed() async {
        let owner = KeyPair.random()
        let peer = PeerInfo.create(owner: owner, endpoint: "tcp://8.8.4.4:7000")
        let announce = { (node: NodeInfo, handler: RequestAnswerer) in
            await self.answer(.announcePeerRequest(AnnouncePeerRequest(token: await self.token(for: owner.publicKey, node: node), peer: peer)),
                              from: node, with: handler)
        }
        #expect(await announce(sender, handler) == nil, "10.9.8.7 is not global unicast: no reply at all")
        #expect(await announce(globalSender, handler) == .announcePeerResponse)
        #expect(await announce(sender, localHandler) == .announcePeerResponse)
        for fingerprint in 1...12 {
            let more = PeerInfo.create(owner: owner, fingerprint: Int64(fingerprint), endpoint: "tcp://8.8.4.4:\(7000 + fingerprint)")
            _ = await answer(.announcePeerRequest(AnnouncePeerRequest(token: await token(for: owner.publicKey, node: globalSender), peer: more)), from: globalSender)
        }
        guard case .findPeerResponse(let all)? = await answer(.findPeerRequest(FindPeerRequest(target: owner.publicKey, want: .ipv4))),
              case .findPeerResponse(let three)? = await answer(.findPeerRequest(FindPeerRequest(target: owner.publicKey, want: .ipv4, expectedCount: 3))) else {
            Issue.record("no FIND_PEER answer"); return
        }
        #expect(all.peers.count == 8, "at most 8 per answer")
        #expect(three.peers.count == 3)
        #expect(all.peers.allSatisfy { $0.isValid })
        #expect(all.nodes.isEmpty && three.nodes.isEmpty, "peers come alone, as the reference sends them")
        guard case .findPeerResponse(let nobody)? = await answer(.findPeerRequest(FindPeerRequest(target: .random(), want: .ipv4))) else {
            Issue.record("no FIND_PEER answer"); return
        }
        #expect(nobody.peers.isEmpty && nobody.nodes.ipv4.count == 16, "nodes only when no peer is known")
    }

    @Test func responsesAreNotAnswered() async {
        #expect(await answer(.pingResponse) == nil)
        #expect(await answer(.error(method: .ping, ErrorBody(code: 201))) == nil)
    }
}
