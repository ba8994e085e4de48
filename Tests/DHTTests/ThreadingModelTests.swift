import CarrierCore
@testable import CarrierDHT
import Foundation
import Synchronization
import Testing
import TestSupport

/// The threading model of `docs/threading.md`: a node's work runs on its event loop, so it goes on
/// while every thread of the global cooperative pool is blocked (by a plugin's synchronous call,
/// an fsync in another task). Runs in `make test`'s serial step: blocking the pool would hold up
/// the tests running beside it.
struct ThreadingModelTests {
    /// Set once the blocked tasks have returned.
    final class Released: Sendable {
        private let flag = Atomic<Bool>(false)
        var isSet: Bool { flag.load(ordering: .relaxed) }
        func set() { flag.store(true, ordering: .relaxed) }
    }

    @Test func nodesStoreAndFindWhileTheCooperativePoolIsBlocked() async throws {
        var nodes: [DHTNode] = []
        for _ in 0..<6 {
            var configuration = DHTNode.Configuration(listen: Endpoint("\(LoopbackAddress.unique()):0")!,
                                                      dataDirectory: NSTemporaryDirectory() + "carrier-node-\(UUID().uuidString)")
            configuration.allowLocal = true
            let node = try DHTNode(identity: KeyPair.random(), configuration: configuration)
            try await node.start()
            nodes.append(node)
        }
        let seed = try #require(await nodes[0].nodeInfo)
        for node in nodes.dropFirst() { await node.bootstrap([seed]) }
        for node in nodes { _ = await node.findNode(node.id) }
        let timedOutBefore = await nodes[1].statistics.requestsTimedOut

        // More blocked tasks than the pool has threads, for three seconds.
        let released = Released()
        let blockers = (0..<2 * ProcessInfo.processInfo.activeProcessorCount).map { _ in
            Task.detached {
                usleep(3_000_000)
                released.set()
            }
        }
        let writer = nodes[1], reader = nodes[2]
        let value = Value.signed(by: KeyPair.random(), sequenceNumber: 1, data: Array("while the pool sleeps".utf8))
        // Started on a node's loop: neither the work nor this task needs the pool.
        let work = Task(executorPreference: writer.taskExecutor) {
            let accepted = try await writer.storeValue(value)
            let found = await reader.findValue(value.id)
            return (accepted: accepted.values.count { $0 }, found: found, whilePoolBlocked: !released.isSet)
        }
        let outcome = try await work.value
        for blocker in blockers { await blocker.value }
        #expect(outcome.whilePoolBlocked, "the store and the lookup waited for the pool")
        #expect(outcome.accepted >= 3 && outcome.found == value, "\(outcome.accepted) accepted, found \(String(describing: outcome.found))")
        #expect(await writer.statistics.requestsTimedOut == timedOutBefore)
        for node in nodes { await node.stop() }
    }
}
