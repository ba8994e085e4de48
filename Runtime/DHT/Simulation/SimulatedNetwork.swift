import CarrierCore

/// Thousands of DHT nodes in one process, over an in-memory network with a virtual clock: the
/// production `RoutingTable` and `IterativeLookup`, no sockets, no threads. It measures how well
/// lookups find the true closest nodes, and values, as nodes come and go.
///
/// Modelled: per-message latency (uniform in `latency`), requests to departed nodes timing out after
/// `timeout`, the liveness rules (a contact that only sent us requests is pinged before it becomes
/// an entry; the ping succeeds if it is alive). Not modelled: packet loss, NAT, rate limits.
/// Deterministic for a given seed.
public struct SimulatedNetwork {
    /// Tunables of the model.
    public struct Parameters: Sendable {
        public var k = 16
        public var alpha = 3
        /// One-way latency range in milliseconds.
        public var latency: ClosedRange<Int64> = 5...50
        /// How long a request to a departed node takes to fail, in milliseconds.
        public var timeout: Int64 = 1000
        public var seed: UInt64 = 1
        public init() {}
    }

    /// What one lookup did.
    public struct LookupResult: Sendable {
        public var closest: [NodeInfo]
        public var requests: Int
        public var rounds: Int
        public var foundValue: Bool
        /// Virtual milliseconds from start to finish.
        public var duration: Int64
    }

    struct Node {
        var info: NodeInfo
        var table: RoutingTable
        var alive = true
        var values: Set<Id> = []
    }

    public let parameters: Parameters
    private var nodes: [Node] = []
    private var indexById: [Id: Int] = [:]
    private var random: SplitMix64
    /// The virtual clock, in milliseconds.
    public private(set) var now: Int64 = 0

    public init(parameters: Parameters = Parameters()) {
        self.parameters = parameters
        self.random = SplitMix64(seed: parameters.seed)
    }

    /// Ids of the nodes currently alive.
    public var aliveIds: [Id] { nodes.filter(\.alive).map(\.info.id) }

    /// Number of nodes alive (kept, not counted: it is read on every join and lookup).
    public private(set) var aliveCount = 0

    /// Adds a node that bootstraps from a random live node and looks itself up, as a joining node does.
    @discardableResult
    public mutating func join() -> Id {
        let id = Id(bytes: (0..<32).map { _ in UInt8.random(in: 0...255, using: &random) })!
        let index = nodes.count
        let address = IPAddress(bytes: [10, UInt8(index >> 16 & 0xFF), UInt8(index >> 8 & 0xFF), UInt8(index & 0xFF)])!
        let info = NodeInfo(id: id, address: address, port: 39001)
        let bootstrap = randomAliveIndex()
        nodes.append(Node(info: info, table: RoutingTable(localId: id, bucketSize: parameters.k, maxEntriesPerSourceUnit: nil, now: now)))
        indexById[id] = index
        aliveCount += 1
        if let bootstrap {
            nodes[index].table.recordResponse(from: nodes[bootstrap].info, now: now)
            _ = lookup(from: index, target: id)
        }
        return id
    }

    /// Makes a random `fraction` of the live nodes leave, and as many new nodes join.
    public mutating func churn(_ fraction: Double) {
        let leaving = Int(Double(aliveCount) * fraction)
        for _ in 0..<leaving {
            if let index = randomAliveIndex() {
                nodes[index].alive = false
                nodes[index].values = []
                aliveCount -= 1
            }
        }
        for _ in 0..<leaving { join() }
    }

    /// A FIND_NODE lookup for `target` from a random live node.
    public mutating func lookup(target: Id) -> LookupResult {
        lookup(from: randomAliveIndex()!, target: target)
    }

    /// Stores value `id` on the `k` closest live nodes a lookup from a random node finds (STORE_VALUE).
    public mutating func store(valueId id: Id) {
        for node in lookup(target: id).closest {
            if let index = indexById[node.id], nodes[index].alive { nodes[index].values.insert(id) }
        }
    }

    /// A FIND_VALUE lookup for value `id` from a random live node; `foundValue` tells the outcome.
    public mutating func findValue(_ id: Id) -> LookupResult {
        lookup(from: randomAliveIndex()!, target: id, wantValue: true)
    }

    /// The true `count` closest live nodes to `target`.
    public func trueClosest(to target: Id, count: Int) -> [Id] {
        var ids = aliveIds
        ids.sort { target.isCloser($0, than: $1) }
        return Array(ids.prefix(count))
    }

    private mutating func randomAliveIndex() -> Int? {
        guard aliveCount > 0 else { return nil }
        while true {
            let index = Int.random(in: 0..<nodes.count, using: &random)
            if nodes[index].alive { return index }
        }
    }

    /// Runs one lookup from node `origin` to completion on the virtual clock.
    private mutating func lookup(from origin: Int, target: Id, wantValue: Bool = false) -> LookupResult {
        let seeds = nodes[origin].table.closest(to: target, count: parameters.k)
        var lookup = IterativeLookup(target: target, seeds: seeds, k: parameters.k, alpha: parameters.alpha, excluding: nodes[origin].info.id)
        var pending = EventQueue()
        var clock = now
        var foundValue = false
        while true {
            for request in lookup.nextRequests() {
                nodes[origin].table.recordRequestSent(to: request.id, now: clock)
                guard let peer = indexById[request.id], nodes[peer].alive else {
                    pending.push(at: clock + parameters.timeout, .init(peer: request, answer: nil, hasValue: false))
                    continue
                }
                let roundTrip = Int64.random(in: parameters.latency, using: &random) + Int64.random(in: parameters.latency, using: &random)
                // The peer hears from us: an unknown sender is pinged (it is alive, so it answers).
                if nodes[peer].table.recordRequest(from: nodes[origin].info, now: clock) {
                    nodes[peer].table.recordResponse(from: nodes[origin].info, rtt: Double(roundTrip), now: clock)
                }
                let hasValue = wantValue && nodes[peer].values.contains(target)
                let answer = hasValue ? [] : nodes[peer].table.closest(to: target, count: parameters.k)
                pending.push(at: clock + roundTrip, .init(peer: request, answer: answer, hasValue: hasValue))
            }
            if lookup.isFinished { break }
            guard let (time, event) = pending.pop() else { break }
            clock = time
            if let answer = event.answer {
                nodes[origin].table.recordResponse(from: event.peer, rtt: nil, now: clock)
                lookup.recordAnswer(from: event.peer, nodes: answer)
                if event.hasValue {
                    foundValue = true
                    lookup.finish()
                }
            } else {
                nodes[origin].table.recordTimeout(of: event.peer.id, now: clock)
                lookup.recordFailure(of: event.peer)
            }
        }
        nodes[origin].table.markRefreshed(target, now: clock)
        let result = LookupResult(closest: lookup.closestAnswered, requests: lookup.requestCount, rounds: lookup.rounds,
                                  foundValue: foundValue, duration: clock - now)
        now = clock
        return result
    }
}

/// Pending answers and timeouts of one simulated lookup, earliest first (a binary heap).
struct EventQueue {
    struct Event {
        let peer: NodeInfo
        /// The nodes it returned, or nil for a timeout.
        let answer: [NodeInfo]?
        let hasValue: Bool
    }

    private var heap: [(time: Int64, sequence: Int, event: Event)] = []
    private var sequence = 0

    mutating func push(at time: Int64, _ event: Event) {
        sequence += 1
        heap.append((time, sequence, event))
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard Self.earlier(heap[child], heap[parent]) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> (Int64, Event)? {
        guard !heap.isEmpty else { return nil }
        heap.swapAt(0, heap.count - 1)
        let top = heap.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var smallest = parent
            if left < heap.count, Self.earlier(heap[left], heap[smallest]) { smallest = left }
            if right < heap.count, Self.earlier(heap[right], heap[smallest]) { smallest = right }
            if smallest == parent { break }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
        return (top.time, top.event)
    }

    private static func earlier(_ a: (time: Int64, sequence: Int, event: Event), _ b: (time: Int64, sequence: Int, event: Event)) -> Bool {
        (a.time, a.sequence) < (b.time, b.sequence)
    }
}
