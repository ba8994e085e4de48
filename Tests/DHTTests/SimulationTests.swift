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
        lookup.recordFailure(of: first[0].id)
        lookup.recordAnswer(from: first[1].id, nodes: [])
        let second = lookup.nextRequests()
        #expect(second.map(\.id) == [nodes[3].id, nodes[4].id])
        for node in [first[2]] + second { lookup.recordAnswer(from: node.id, nodes: []) }
        #expect(lookup.isFinished)
        #expect(lookup.closestAnswered.map(\.id) == [nodes[1], nodes[2], nodes[3], nodes[4]].map(\.id))
        #expect(lookup.requestCount == 5)
    }
}
