import CarrierCore
import CarrierDHT
import Foundation
import Testing
import TestSupport

/// Real nodes on real UDP sockets on 127.0.0.1.
@Suite(.serialized)
struct LoopbackNetworkTests {
    private func makeNode(k: Int = 16) throws -> DHTNode {
        var configuration = DHTNode.Configuration(listen: Endpoint("\(LoopbackAddress.unique()):0")!,
                                                  dataDirectory: NSTemporaryDirectory() + "carrier-node-\(UUID().uuidString)")
        configuration.allowLocal = true
        configuration.k = k
        configuration.requestTimeout = .milliseconds(500)
        return try DHTNode(identity: KeyPair.random(), configuration: configuration)
    }

    private func network(_ count: Int, k: Int = 16) async throws -> [DHTNode] {
        var nodes: [DHTNode] = []
        for _ in 0..<count {
            let node = try makeNode(k: k)
            try await node.start()
            nodes.append(node)
        }
        let seed = try #require(await nodes[0].nodeInfo)
        for node in nodes.dropFirst() { await node.bootstrap([seed]) }
        // A second round lets early joiners learn of later ones.
        for node in nodes { _ = await node.findNode(node.id) }
        return nodes
    }

    @Test func twoNodesPingAndFindEachOther() async throws {
        let nodes = try await network(2)
        let a = nodes[0], b = nodes[1]
        #expect(await a.ping(try #require(await b.nodeInfo)))
        #expect(await a.contacts.map(\.id) == [b.id])
        #expect(await b.contacts.map(\.id) == [a.id])
        #expect(await a.findNode(b.id).map(\.id) == [b.id])
        for node in nodes { await node.stop() }
    }

    @Test func a32NodeNetworkStoresAndFinds100ValuesAnd100Peers() async throws {
        let nodes = try await network(32)
        let everyone = nodes.map(\.id)
        // FIND_NODE ends on the true K closest.
        for _ in 0..<20 {
            let target = Id.random()
            let truth = everyone.sorted { target.isCloser($0, than: $1) }
            let origin = nodes[Int.random(in: 0..<nodes.count)]
            let expected = truth.filter { $0 != origin.id }.prefix(16)
            #expect(await origin.findNode(target).map(\.id) == Array(expected))
        }
        for index in 0..<100 {
            let publisher = nodes[index % nodes.count], reader = nodes[(index + 7) % nodes.count]
            let value = index % 2 == 0 ? Value.immutable(Array("value \(index)".utf8))
                                       : Value.signed(by: KeyPair.random(), sequenceNumber: Int32(index), data: Array("signed \(index)".utf8))
            let accepted = try await publisher.storeValue(value, persistent: false)
            #expect(accepted.values.filter { $0 }.count >= 15, "stored on the 16 closest nodes")
            #expect(await reader.findValue(value.id) == value)
            let owner = KeyPair.random()
            let peer = PeerInfo.create(owner: owner, node: publisher.identity, endpoint: "tcp://127.0.0.1:\(9000 + index)")
            _ = try await publisher.announcePeer(peer, persistent: false)
            #expect(await reader.findPeers(owner.publicKey) == [peer])
        }
        #expect(await nodes[3].findValue(Id.random()) == nil)
        for node in nodes { await node.stop() }
    }

    @Test func badDatagramsAreCountedAndFloodsThrottledWhileOthersAreServed() async throws {
        let nodes = try await network(2)
        let target = nodes[0], friend = nodes[1]
        let targetInfo = try #require(await target.nodeInfo)
        let attacker = try await UDPTransport(binding: Endpoint("127.0.0.1:0")!)
        let destination = Endpoint(address: targetInfo.address, port: targetInfo.port)
        // Garbage, a forged envelope, and a sealed datagram that is not a message.
        attacker.send([1, 2, 3], to: destination)
        attacker.send(KeyPair.random().publicKey.bytes + Sodium.randomBytes(80), to: destination)
        let stranger = DatagramEnvelope(identity: KeyPair.random())
        attacker.send(try stranger.seal(Array("not cbor at all".utf8), to: target.id, family: .ipv4), to: destination)
        // Then a flood of 2,000 datagrams from the same source.
        for _ in 0..<2000 { attacker.send([0], to: destination) }
        try await Task.sleep(for: .milliseconds(500))
        let statistics = await target.statistics
        #expect(statistics.throttled > 1000, "\(statistics.throttled) throttled")
        #expect(statistics.envelopeRejected >= 2)
        #expect(statistics.malformedMessages == 1)
        #expect(await friend.ping(targetInfo), "another source is still served")
        await attacker.close()
        for node in nodes { await node.stop() }
    }

    @Test func aStoreWithCasIsRefusedAsAConflictWhereANewerVersionIsHeld() async throws {
        let nodes = try await network(5)
        let owner = KeyPair.random()
        let five = Value.signed(by: owner, sequenceNumber: 5, data: Array("five".utf8))
        let stored = try await nodes[1].storeValueAnswers(five, cas: nil, persistent: false)
        let holders = nodes.filter { stored[$0.id] == .accepted }
        #expect(holders.count == 4, "\(stored)")
        // Written after reading version 3: every node holding 5 says conflict and keeps 5; the
        // writer's other closest node (nodes[1], which stored for others) holds none and accepts.
        let unread = Value.signed(by: owner, sequenceNumber: 6, data: Array("six, after reading three".utf8))
        let refused = try await nodes[2].storeValueAnswers(unread, cas: 3, persistent: false)
        for holder in holders where holder !== nodes[2] {
            #expect(refused[holder.id] == .conflict, "\(refused)")
            #expect(try holder.storage.value(owner.publicKey, now: Int64(Date().timeIntervalSince1970 * 1000)) == five)
        }
        #expect(refused[nodes[1].id] == .accepted, "\(refused)")
        // Written after reading 6: accepted everywhere.
        let read = Value.signed(by: owner, sequenceNumber: 7, data: Array("seven, after reading six".utf8))
        let accepted = try await nodes[2].storeValueAnswers(read, cas: 6, persistent: false)
        #expect(accepted.count == 4 && accepted.values.allSatisfy { $0 == .accepted }, "\(accepted)")
        #expect(await nodes[3].findValue(owner.publicKey) == read)
        for node in nodes { await node.stop() }
    }

    @Test func theNodesThatStoreAValueOrPeerAnnounceIt() async throws {
        let nodes = try await network(6)
        let watched = nodes[2]
        let events = watched.events()
        let owner = KeyPair.random()
        let value = Value.signed(by: owner, sequenceNumber: 1, data: Array("watch me".utf8))
        #expect(try await nodes[4].storeValue(value, persistent: false)[watched.id] == true)
        let peer = PeerInfo.create(owner: owner, endpoint: "tcp://127.0.0.1:8000")
        #expect(try await nodes[5].announcePeer(peer, persistent: false)[watched.id] == true)
        var iterator = events.makeAsyncIterator()
        #expect(await iterator.next() == .valueUpdated(value))
        #expect(await iterator.next() == .peerAnnounced(peer))
        for node in nodes { await node.stop() }
    }

    @Test func aRestartedNodeKeepsItsRoutingTableAndValues() async throws {
        let nodes = try await network(6)
        let directory = NSTemporaryDirectory() + "carrier-restart-\(UUID().uuidString)"
        let identity = KeyPair.random()
        var configuration = DHTNode.Configuration(listen: Endpoint("127.0.0.1:0")!, dataDirectory: directory)
        configuration.allowLocal = true
        var node = try DHTNode(identity: identity, configuration: configuration)
        try await node.start()
        await node.bootstrap([try #require(await nodes[0].nodeInfo)])
        let contacts = Set(await node.contacts.map(\.id))
        #expect(contacts.count == 6)
        let value = Value.signed(by: identity, sequenceNumber: 1, data: Array("mine".utf8))
        _ = try await node.storeValue(value)
        await node.stop()

        node = try DHTNode(identity: identity, configuration: configuration)
        try await node.start()
        #expect(Set(await node.contacts.map(\.id)) == contacts, "the routing table came back without a bootstrap")
        #expect(await node.findValue(value.id) == value)
        #expect(await node.findNode(nodes[3].id).first?.id == nodes[3].id, "and it works")
        await node.stop()
        for node in nodes { await node.stop() }
    }

    @Test func aCacheOfAnotherNodeOrTooOldIsIgnored() throws {
        var table = RoutingTable(localId: .random(), now: 0)
        for index in 1...5 { table.recordResponse(from: NodeInfo(id: .random(), address: IPAddress("10.0.0.\(index)")!, port: 1), now: 0) }
        let path = NSTemporaryDirectory() + "carrier-cache-\(UUID().uuidString)"
        try RoutingTableCache.save(table, to: path, now: 1000, wallClock: 5_000_000)
        let loaded = RoutingTableCache.load(from: path, localId: table.localId, now: 0, wallClock: 5_000_500)
        #expect(Set(loaded.map(\.id)) == Set(table.entries.map(\.id)))
        #expect(loaded.allSatisfy { $0.reachable && $0.lastSeen == -1500 }, "seen 1.5 s before the reload, on the new clock")
        #expect(RoutingTableCache.load(from: path, localId: .random(), now: 0, wallClock: 5_000_500).isEmpty)
        #expect(RoutingTableCache.load(from: path, localId: table.localId, now: 0, wallClock: 5_000_000 + 25 * 3_600_000).isEmpty)
        try Data([0xBF, 0x61]).write(to: URL(fileURLWithPath: path))
        #expect(RoutingTableCache.load(from: path, localId: table.localId, now: 0, wallClock: 5_000_500).isEmpty)
    }
}
