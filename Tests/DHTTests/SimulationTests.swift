import CarrierCore
import CarrierDHT
import Testing

/// The lookup state machine and the in-memory network it is measured on.
struct SimulationTests {
    @Test func lookupsFindTheTrueClosestNodesInAStableNetwork() {
        var network = SimulatedNetwork()
        for _ in 0..<400 { network.join() }
        var exact = 0
        for index in 0..<50 {
            let target = Id(bytes: [UInt8](repeating: UInt8(index), count: 16) + Id.random().bytes.prefix(16))!
            let result = network.lookup(target: target)
            #expect(result.closest.count == 16)
            #expect(result.requests >= 16, "every node in the result answered a request")
            if result.closest.map(\.id) == network.trueClosest(to: target, count: 16) { exact += 1 }
        }
        #expect(exact >= 48, "\(exact)/50 lookups ended on the true 16 closest")
    }

    @Test func valuesSurviveChurnOnceRepublished() {
        let rows = ChurnExperiment.run(nodes: 300, lookups: 40, values: 30, churnLevels: [0, 0.3])
        #expect(rows.count == 2)
        #expect(rows[0].valuesFoundAfterChurn == 1 && rows[0].kClosestFound >= 0.95)
        #expect(rows[1].valuesFoundAfterRepublish == 1)
        #expect(rows[1].closestFound >= 0.9)
        #expect(rows[1].requestsPerLookup > rows[0].requestsPerLookup * 0.5)
    }

    @Test func aLookupWithNoSeedsFinishesAtOnce() {
        var lookup = IterativeLookup(target: .random(), seeds: [])
        #expect(lookup.nextRequests().isEmpty)
        #expect(lookup.isFinished && lookup.closestAnswered.isEmpty)
    }

    @Test func aLookupQueriesAtMostAlphaAtOnceAndSkipsFailures() {
        let target = Id.zero
        let nodes = (1...10).map { NodeInfo(id: Id(bytes: [UInt8](repeating: 0, count: 31) + [UInt8($0)])!, address: IPAddress("10.0.0.\($0)")!, port: 1) }
        var lookup = IterativeLookup(target: target, seeds: nodes, k: 4, alpha: 3)
        let first = lookup.nextRequests()
        #expect(first.map(\.id) == nodes.prefix(3).map(\.id))
        #expect(lookup.nextRequests().isEmpty, "alpha requests are already in flight")
        lookup.recordFailure(of: first[0])
        lookup.recordAnswer(from: first[1], nodes: [])
        let second = lookup.nextRequests()
        #expect(second.map(\.id) == [nodes[3].id, nodes[4].id])
        for node in [first[2]] + second { lookup.recordAnswer(from: node, nodes: []) }
        #expect(lookup.isFinished)
        #expect(lookup.closestAnswered.map(\.id) == [nodes[1], nodes[2], nodes[3], nodes[4]].map(\.id))
        #expect(lookup.requestCount == 5)
    }

    @Test func aLiveNodeNamedAtAStaleAddressIsStillAskedAtItsOtherAddress() {
        let target = Id.zero
        let id = { (n: UInt8) in Id(bytes: [UInt8](repeating: 0, count: 31) + [n])! }
        let seed = NodeInfo(id: id(9), address: IPAddress("10.0.0.9")!, port: 1)
        var lookup = IterativeLookup(target: target, seeds: [seed], k: 2, alpha: 3)
        #expect(lookup.nextRequests() == [seed])
        // The seed knows node 1 at an old port only; node 2 names it at its current one.
        let stale = NodeInfo(id: id(1), address: IPAddress("10.0.0.1")!, port: 1)
        let current = NodeInfo(id: id(1), address: IPAddress("10.0.0.1")!, port: 2)
        let two = NodeInfo(id: id(2), address: IPAddress("10.0.0.2")!, port: 1)
        lookup.recordAnswer(from: seed, nodes: [stale, two])
        #expect(lookup.nextRequests() == [stale, two])
        lookup.recordAnswer(from: two, nodes: [current])
        #expect(lookup.nextRequests().isEmpty, "one endpoint of an id at a time")
        lookup.recordFailure(of: stale)
        #expect(lookup.nextRequests() == [current])
        lookup.recordAnswer(from: current, nodes: [stale])
        #expect(lookup.isFinished)
        #expect(lookup.closestAnswered == [current, two])
    }
}
