import CarrierCore
import CarrierDHT
import Foundation
import Testing
import TestSupport

/// A node whose every contact goes silent heals itself once they are back (issue #13, item 1): its
/// peers are a real `carrier testnet` child process, paused with SIGSTOP, killed and restarted on
/// the same keys and ports, or silent for two minutes, as a laptop's network drops. Recovery is
/// measured from the moment the peers are back to the moment a contact is live again, with no
/// operation of ours nudging the node: its reconnection schedule alone brings it back.
@Suite(.serialized)
struct SelfHealingTests {
    /// The promise: live again within 30 s of the peers coming back.
    static let recoveryLimit: Duration = .seconds(30)

    private func makeNode() async throws -> DHTNode {
        var configuration = DHTNode.Configuration(listen: Endpoint("\(LoopbackAddress.unique()):0")!,
                                                  dataDirectory: NSTemporaryDirectory() + "carrier-healing-\(UUID().uuidString)")
        configuration.allowLocal = true
        let node = try DHTNode(identity: KeyPair.random(), configuration: configuration)
        try await node.start()
        return node
    }

    /// A testnet of `nodes` in a child process, and its bootstrap contact.
    private func testnet(_ nodes: Int, basePort: UInt16 = 0, directory: String) async throws -> (ChildProcess, NodeInfo) {
        let child = try ChildProcess.start(CarrierBinary.path, ["testnet", "--nodes", "\(nodes)", "--base-port", "\(basePort)",
                                                                "--data-dir", directory])
        let line = try await child.waitForLine(within: .seconds(60)) { $0.contains("@127.0.0.1:") }
        return (child, try #require(NodeInfo(contact: line)))
    }

    /// Operations while the peers are silent: each must say the network is unreachable, never
    /// that the value is missing; after them every contact is failing.
    private func failWhileSilent(_ node: DHTNode, value: Value) async throws {
        for _ in 0..<3 {
            #expect(try await node.storeValueAnswers(value, cas: nil, persistent: false).isEmpty, "no node reached")
            #expect(await node.searchValue(value.id) == .unreachable, "unreachable, not 'not found'")
        }
        #expect(await node.contactCounts(in: .ipv4).good == 0)
    }

    /// How long after now the node has a live contact again (nil past the limit), without
    /// sending anything of ours: only the node's own schedule works.
    private func recoveryTime(of node: DHTNode) async -> Duration? {
        let start = ContinuousClock.now
        let live = await eventually(within: Self.recoveryLimit) { await node.contactCounts(in: .ipv4).good > 0 }
        let elapsed = ContinuousClock.now - start
        print("SelfHealingTests: live again after \(elapsed)")
        return live ? elapsed : nil
    }

    private func expectWorking(_ node: DHTNode) async throws {
        let value = Value.immutable(Array("after recovery \(UUID())".utf8))
        let answers = try await node.storeValueAnswers(value, cas: nil, persistent: false)
        #expect(answers.values.contains(.accepted), "a put works again: \(answers)")
        #expect(await node.searchValue(Id.random()) == .notFound, "a missing value is reported missing once the network is back")
    }

    @Test func aNodeWhoseOnlyPeerWasPausedIsLiveAgainWithin30Seconds() async throws {
        let (peer, contact) = try await testnet(1, directory: NSTemporaryDirectory() + "carrier-healing-\(UUID().uuidString)")
        defer { peer.stop() }
        let node = try await makeNode()
        #expect(await node.bootstrap([contact]) == 1)
        peer.send(signal: SIGSTOP)
        try await failWhileSilent(node, value: .immutable(Array("while paused".utf8)))
        try await Task.sleep(for: .seconds(10))
        peer.send(signal: SIGCONT)
        let elapsed = await recoveryTime(of: node)
        #expect(elapsed != nil, "still cut off \(Self.recoveryLimit) after the peer resumed")
        try await expectWorking(node)
        #expect(await node.statistics.reconnections >= 1)
        await node.stop()
    }

    @Test func aNodeWhoseOnlyPeerRestartedOnTheSameKeyAndPortIsLiveAgainWithin30Seconds() async throws {
        let directory = NSTemporaryDirectory() + "carrier-healing-\(UUID().uuidString)"
        let (first, contact) = try await testnet(1, directory: directory)
        let node = try await makeNode()
        #expect(await node.bootstrap([contact]) == 1)
        first.send(signal: SIGKILL)
        try await failWhileSilent(node, value: .immutable(Array("while down".utf8)))
        try await Task.sleep(for: .seconds(5))
        // The same data directory (so the same key) and the same port.
        let (second, again) = try await testnet(1, basePort: contact.port, directory: directory)
        defer { second.stop() }
        #expect(again == contact)
        let elapsed = await recoveryTime(of: node)
        #expect(elapsed != nil, "still cut off \(Self.recoveryLimit) after the peer restarted")
        try await expectWorking(node)
        await node.stop()
    }

    @Test func aLaptopStyleDropOfTwoMinutesHealsWithin30SecondsWithoutHammeringTheNetwork() async throws {
        let (peers, contact) = try await testnet(4, directory: NSTemporaryDirectory() + "carrier-healing-\(UUID().uuidString)")
        defer { peers.stop() }
        let node = try await makeNode()
        #expect(await node.bootstrap([contact]) == 1)
        #expect(await node.contacts.count == 4)
        peers.send(signal: SIGSTOP)
        try await failWhileSilent(node, value: .immutable(Array("during the drop".utf8)))
        // Every contact silent for two minutes in all; the last minute measures what a node cut
        // off sends on its own.
        try await Task.sleep(for: .seconds(60))
        let before = await node.statistics.datagramsSent
        try await Task.sleep(for: .seconds(60))
        let sent = await node.statistics.datagramsSent - before
        print("SelfHealingTests: \(sent) datagrams sent in the drop's second minute")
        // One round (4 contacts) per 15 s at most, plus the first rounds' catch-up: far below
        // one datagram a second.
        #expect(sent <= 40, "a node cut off sent \(sent) datagrams in a minute")
        peers.send(signal: SIGCONT)
        let elapsed = await recoveryTime(of: node)
        #expect(elapsed != nil, "still cut off \(Self.recoveryLimit) after the network came back")
        try await expectWorking(node)
        #expect(await node.contactCounts(in: .ipv4).good == 4, "the whole table is live again")
        await node.stop()
    }
}
