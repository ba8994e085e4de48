import CarrierCore
import CarrierDHT
import Foundation
import Testing

/// What an independent Boson implementation met in a mixed network (issue #13, item 1b): answers
/// full of dead entries, a FIND_VALUE answer with a `seq` beside its nodes, and queries that
/// arrive while a node is still joining.
@Suite(.serialized)
struct LookupConformanceTests {
    private func makeNode(timeout: Duration = .milliseconds(500)) async throws -> DHTNode {
        var configuration = DHTNode.Configuration(listen: Endpoint("127.0.0.1:0")!,
                                                  dataDirectory: NSTemporaryDirectory() + "carrier-conformance-\(UUID().uuidString)")
        configuration.allowLocal = true
        configuration.requestTimeout = timeout
        let node = try DHTNode(identity: KeyPair.random(), configuration: configuration)
        try await node.start()
        return node
    }

    /// Six real nodes that know each other.
    private func liveNetwork() async throws -> [DHTNode] {
        var nodes: [DHTNode] = []
        for _ in 0..<6 { nodes.append(try await makeNode()) }
        let seed = try #require(await nodes[0].nodeInfo)
        for node in nodes.dropFirst() { await node.bootstrap([seed]) }
        for node in nodes { _ = await node.findNode(node.id) }
        return nodes
    }

    /// A port nobody listens on.
    private func deadPort() async throws -> UInt16 {
        let socket = try await UDPTransport(binding: Endpoint("127.0.0.1:0")!)
        let port = socket.localEndpoint.port
        await socket.close()
        return port
    }

    @Test func aLookupThroughAPeerFullOfDeadEntriesStillEndsOnTheTrueClosestSet() async throws {
        let live = try await liveNetwork()
        var known: [NodeInfo] = []
        for node in live { known.append(try #require(await node.nodeInfo)) }
        let infos = known
        let dead = try await deadPort()
        // 6 dead entries of 8: three made-up ids, and three live nodes at a port where they are not.
        let deadEntries = (0..<3).map { _ in NodeInfo(id: .random(), address: IPAddress("127.0.0.1")!, port: dead) }
            + infos.prefix(3).map { NodeInfo(id: $0.id, address: $0.address, port: dead) }
        let answer = deadEntries + infos.suffix(2)
        let liar = try await ScriptedPeer { request in
            switch request.body {
            case .pingRequest: ScriptedPeer.response(to: request, nil)
            case .findNodeRequest: ScriptedPeer.response(to: request, [.init("n4", ScriptedPeer.nodeList(answer))])
            default: nil
            }
        }
        for _ in 0..<5 {
            let target = Id.random()
            let truth = (infos.map(\.id) + [liar.identity.publicKey]).sorted { target.isCloser($0, than: $1) }
            // A newcomer that knows the liar alone: its lookup starts from the liar's answer. On a
            // loaded machine a live node can miss the 200 ms floor of the adaptive timeout, so a
            // newcomer gets three tries; keyed by id alone, no try ever found the stale-addressed
            // nodes.
            var found: [Id] = []
            for _ in 0..<3 where found != truth {
                let origin = try await makeNode()
                #expect(await origin.ping(liar.contact))
                found = await origin.findNode(target).map(\.id)
                await origin.stop()
            }
            #expect(found == truth, "every live node, none of the dead")
        }
        await liar.stop()
        for node in live { await node.stop() }
    }

    @Test func aFindValueAnswerWithASeqBesideItsNodesIsFollowedAndCounted() async throws {
        let live = try await liveNetwork()
        let value = Value.signed(by: KeyPair.random(), sequenceNumber: 3, data: Array("found past a sloppy answer".utf8))
        #expect(try await live[0].storeValue(value, persistent: false).values.contains(true))
        var known: [NodeInfo] = []
        for node in live { known.append(try #require(await node.nodeInfo)) }
        let infos = known
        let sloppy = try await ScriptedPeer { request in
            switch request.body {
            case .pingRequest: ScriptedPeer.response(to: request, nil)
            case .findNodeRequest: ScriptedPeer.response(to: request, [.init("n4", ScriptedPeer.nodeList(infos))])
            // Nodes, and a `seq` with no value: the reference ignores the `seq`.
            case .findValueRequest: ScriptedPeer.response(to: request, [.init("n4", ScriptedPeer.nodeList(infos)), .init("seq", .unsigned(3))])
            default: nil
            }
        }
        // Knowing the sloppy peer alone, the lookup must go through its answer.
        let origin = try await makeNode()
        #expect(await origin.ping(sloppy.contact))
        let before = await origin.statistics
        #expect(await origin.findValue(value.id) == value, "the answer's nodes were followed")
        let after = await origin.statistics
        #expect(after.messagesWithIgnoredFields > before.messagesWithIgnoredFields)
        #expect(after.malformedMessages == before.malformedMessages, "not dropped as malformed")
        await sloppy.stop()
        for node in live + [origin] { await node.stop() }
    }

    @Test func queriesThatArriveWhileANodeIsStillBootstrappingAreAnswered() async throws {
        let joining = try await makeNode(timeout: .seconds(2))
        let asker = try await makeNode()
        let joiningInfo = try #require(await joining.nodeInfo)
        // Its only bootstrap node is dead: the join takes two full timeouts.
        let nobody = NodeInfo(id: .random(), address: IPAddress("127.0.0.1")!, port: try await deadPort())
        let bootstrap = Task { await joining.bootstrap([nobody]) }
        try await Task.sleep(for: .milliseconds(200))
        #expect(await asker.ping(joiningInfo), "a ping during the join is answered")
        #expect(await asker.findNode(.random()).map(\.id) == [joining.id], "so is a FIND_NODE")
        #expect(await bootstrap.value == 0)
        for node in [joining, asker] { await node.stop() }
    }
}
