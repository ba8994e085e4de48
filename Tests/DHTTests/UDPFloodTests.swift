import CarrierCore
import CarrierDHT
import Foundation
import Testing
import TestSupport

/// The DHT's adversarial tests: `make test` runs every `AdversarialTests` suite on its own after
/// the rest, one test at a time (Tests/HostTests/Adversarial/AdversarialTests.swift).
@Suite(.serialized) struct AdversarialTests {}

extension AdversarialTests {
    /// A single-source UDP flood at the highest rate one sender thread reaches against a node in its
    /// own process (`carrier run`, the release build), beside a measured client: the flood is dropped
    /// per source on the node's event loop, counted, and the client's lookups keep their pace (issue
    /// #12: they went from p50 0.9 ms to 25-300 ms when the limit sat behind the shared queue).
    ///
    /// The sender's rate depends on the node: loopback delivers in the sender's context, so a node
    /// that drains its socket makes each datagram cost the sender more than one whose buffer is full.
    @Suite(.serialized)
    struct UDPFloodTests {
        /// The paced flood of the pace test (datagrams a second).
        static let floodRate = 300_000

        /// The median of `count` FIND_NODE lookups (one round each: the node is the client's only
        /// contact), in ms.
        private static func lookupMedian(_ client: DHTNode, of node: Id, count: Int) async -> (median: Double, found: Int) {
            var times: [Double] = [], found = 0
            for _ in 0..<count {
                let start = ContinuousClock.now
                if await client.findNode(Id.random()).contains(where: { $0.id == node }) { found += 1 }
                times.append((ContinuousClock.now - start).seconds * 1000)
            }
            return (times.sorted()[count / 2], found)
        }

        @Test(.enabled(if: CarrierBinary.releasePath != nil, "needs the release build of carrier, which make test builds"))
        func aFloodFromOneSourceLeavesOtherClientsWithinTwiceTheirPace() async throws {
            let directory = NSTemporaryDirectory() + "carrier-flood-\(UUID().uuidString)"
            let node = try ChildProcess.start(try #require(CarrierBinary.releasePath), ["run", "--listen", "127.0.0.1:0", "--allow-local", "--data-dir", directory])
            defer { node.stop() }
            let line = try await node.waitForLine { $0.hasPrefix("contact: ") }
            let contact = try #require(NodeInfo(contact: String(line.dropFirst("contact: ".count))))

            var configuration = DHTNode.Configuration(listen: Endpoint("127.0.0.1:0")!, dataDirectory: directory + "-client")
            configuration.allowLocal = true
            let client = try DHTNode(identity: KeyPair.random(), configuration: configuration)
            try await client.start()
            #expect(await client.bootstrap([contact]) == 1)
            // The node pings its new contact back; once answered, the client holds the contact allowance.
            try await Task.sleep(for: .milliseconds(500))

            let (unloaded, foundUnloaded) = await Self.lookupMedian(client, of: contact.id, count: 200)
            // 300,000 datagrams a second, paced: what one sender thread reached on this VM when
            // the test was written. Unpaced, a thread now reaches 430,000-550,000 a second, more
            // than the node reads, and the kernel then drops every source's datagrams alike: no
            // limit in the node can help that, only a faster read path (issue #15).
            let flooder = try UDPFlooder(port: Int(contact.port), rate: Self.floodRate)
            try await Task.sleep(for: .milliseconds(300))
            let sentBefore = flooder.count, start = ContinuousClock.now
            let (loaded, foundLoaded) = await Self.lookupMedian(client, of: contact.id, count: 200)
            let rate = Double(flooder.count - sentBefore) / (ContinuousClock.now - start).seconds
            flooder.stop()

            let clientStatistics = await client.statistics, clientContacts = await client.contacts
            #expect(foundUnloaded == 200 && foundLoaded == 200, "lookups answered: \(foundUnloaded) unloaded, \(foundLoaded) under flood; \(clientStatistics); \(clientContacts)")
            // The experiment's precondition, not its finding: the flood was heavy (the node allows
            // a stranger 32 datagrams a second). The sender thread shares two cores with the node
            // and the client: right after make test's parallel step it reached 178,886 and
            // 139,525 a second of the 300,000 paced, and 180,000 or more when run alone.
            #expect(rate > Double(Self.floodRate) * 0.4, "the flood reached only \(Int(rate)) datagrams/s of \(Self.floodRate)")
            // Twice the unloaded median, plus 0.1 ms for the scheduler of a 2-core machine.
            #expect(loaded <= 2 * unloaded + 0.1, "p50 \(unloaded) ms unloaded, \(loaded) ms under a flood of \(Int(rate))/s")
            await client.stop()
        }

        @Test func everyDroppedDatagramIsCounted() async throws {
            var configuration = DHTNode.Configuration(listen: Endpoint("127.0.0.1:0")!,
                                                      dataDirectory: NSTemporaryDirectory() + "carrier-flood-\(UUID().uuidString)")
            configuration.allowLocal = true
            let node = try DHTNode(identity: KeyPair.random(), configuration: configuration)
            try await node.start()
            let port = Int(try #require(await node.localEndpoint).port)
            let flooder = try UDPFlooder(port: port)
            try await Task.sleep(for: .milliseconds(500))
            flooder.stop()
            let sent = flooder.count
            #expect(await eventually { await node.statistics.datagramsReceived > 1000 })
            let statistics = await node.statistics
            // The socket buffer may have lost some (the kernel's count, not ours); of those read, the
            // stranger's burst of 512 went on to the envelope and every other one was throttled.
            #expect(statistics.throttled > 0 && statistics.throttled <= sent)
            #expect(statistics.envelopeRejected <= 512 + 32)
            #expect(statistics.datagramsReceived == statistics.throttled + statistics.envelopeRejected,
                    "\(statistics)")
            await node.stop()
        }
    }
}
