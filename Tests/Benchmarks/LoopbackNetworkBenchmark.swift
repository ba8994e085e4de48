import CarrierCore
import CarrierDHT
import Foundation

/// Carrier nodes on 127.0.0.1, sharing one store file: put and get latency, get success, how often
/// FIND_NODE ends on the true K closest, and resident memory per node. Measured `settleSeconds` after the start, like the
/// OpenDHT side (`OpenDHTComparison`).
enum LoopbackNetworkBenchmark {
    struct Figures {
        let nodes: Int
        let putP50: Double, putP99: Double, getP50: Double, getP99: Double
        let getSuccess: Double
        let trueClosest: Double
        let memoryPerNodeKiB: Double
    }

    static func run(nodes count: Int, operations: Int, settleSeconds: Int) async throws -> Figures {
        var nodes: [DHTNode] = []
        let directory = NSTemporaryDirectory() + "carrier-bench-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // One store file for the whole testnet, as `carrier testnet` runs it: the 16 stores of
        // a put share the writer's commits instead of queuing 16 disk flushes.
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let store = try DHTStore(path: "\(directory)/dht.sqlite")
        // Memory is counted from the first node on, as on OpenDHT's side: what the process pays
        // once (its event loops, the shared store, the runtime's first use) is not a cost per node.
        var residentBefore = 0
        for index in 0..<count {
            var configuration = DHTNode.Configuration(listen: Endpoint("127.0.0.1:0")!, dataDirectory: "\(directory)/\(index)")
            configuration.allowLocal = true
            configuration.store = store
            let node = try DHTNode(identity: KeyPair.random(), configuration: configuration)
            try await node.start()
            nodes.append(node)
            if index == 0 { residentBefore = Measurement.residentAfterTrim() }
        }
        let seed = await nodes[0].nodeInfo!
        for node in nodes.dropFirst() { await node.bootstrap([seed]) }
        for node in nodes { _ = await node.findNode(node.id) }
        try await Task.sleep(for: .seconds(settleSeconds))
        let memoryPerNode = Double((Measurement.residentKiB() ?? 0) - residentBefore) / Double(max(1, count - 1))

        var puts: [Double] = [], gets: [Double] = [], found = 0, exact = 0
        let ids = nodes.map(\.id)
        for index in 0..<operations {
            let value = Value.immutable(Array("benchmark value \(index) \(UUID())".utf8))
            let writer = nodes[index % count], reader = nodes[(index * 7 + 3) % count]
            let putStart = ContinuousClock.now
            _ = try await writer.storeValue(value, persistent: false)
            puts.append(Measurement.milliseconds(ContinuousClock.now - putStart))
            let getStart = ContinuousClock.now
            if await reader.findValue(value.id) == value { found += 1 }
            gets.append(Measurement.milliseconds(ContinuousClock.now - getStart))
            let target = Id.random()
            let truth = ids.filter { $0 != reader.id }.sorted { target.isCloser($0, than: $1) }.prefix(16)
            if await reader.findNode(target).map(\.id) == Array(truth) { exact += 1 }
        }
        for node in nodes { await node.stop() }
        return Figures(nodes: count, putP50: percentile(puts, 0.5), putP99: percentile(puts, 0.99),
                       getP50: percentile(gets, 0.5), getP99: percentile(gets, 0.99),
                       getSuccess: Double(found) / Double(operations), trueClosest: Double(exact) / Double(operations),
                       memoryPerNodeKiB: memoryPerNode)
    }

    private static func percentile(_ samples: [Double], _ share: Double) -> Double {
        let sorted = samples.sorted()
        return sorted[min(sorted.count - 1, Int(Double(sorted.count) * share))]
    }
}
