import CarrierCore

/// The iterative Kademlia lookup as a state machine, with no I/O of its own: a driver asks which
/// nodes to query next, sends the requests however it likes (UDP in a node, an in-memory network
/// in the simulation), and reports each answer or timeout. So the real node and the simulation run
/// exactly the same lookup.
///
/// Up to `alpha` requests are in flight; candidates are queried closest first; the lookup ends
/// when the `k` closest candidates that have not failed have all answered, or nobody is left to ask.
/// A timeout only removes the endpoint that failed: a candidate is an id at an endpoint, so when an
/// answer names a live node at a stale address (a peer whose table is full of dead entries), the
/// same id heard at another endpoint is still asked, and the lookup still ends on the true closest.
public struct IterativeLookup: Sendable {
    /// Where one candidate stands.
    public enum Status: Sendable { case waiting, inFlight, answered, failed }

    struct Candidate: Sendable {
        let node: NodeInfo
        let distance: Id
        var status: Status = .waiting
        /// How many answers led to it: seeds are 1, a node they returned is 2, and so on.
        let hop: Int
    }

    public let target: Id
    public let k: Int
    public let alpha: Int
    /// Most candidates remembered (the closest are kept).
    public let capacity: Int
    private let localId: Id?

    /// Candidates sorted by distance to the target.
    private var candidates: [Candidate] = []
    /// Every id at every endpoint heard of, so that a stale address does not hide a live one.
    private var known: Set<NodeInfo> = []
    /// Ids that answered: their other endpoints are not asked.
    private var answeredIds: Set<Id> = []
    /// Requests sent so far.
    public private(set) var requestCount = 0
    private var finishedEarly = false

    /// A lookup for `target` starting from `seeds` (normally the routing table's closest entries).
    public init(target: Id, seeds: [NodeInfo], k: Int = 16, alpha: Int = 3, capacity: Int = 64, excluding localId: Id? = nil) {
        self.target = target
        self.k = k
        self.alpha = alpha
        self.capacity = max(capacity, k)
        self.localId = localId
        add(seeds, hop: 1)
    }

    /// The nodes to query now (possibly none); each is marked in flight.
    public mutating func nextRequests() -> [NodeInfo] {
        guard !isFinished else { return [] }
        var budget = alpha - candidates.filter { $0.status == .inFlight }.count
        var chosen: [NodeInfo] = []
        var live = 0
        for index in candidates.indices where budget > 0 && live < k {
            switch candidates[index].status {
            case .failed: continue
            case .answered, .inFlight: live += 1
            case .waiting:
                // Another endpoint of the same id is being asked, or has answered.
                if answeredIds.contains(candidates[index].node.id) || isInFlight(candidates[index].node.id) { continue }
                candidates[index].status = .inFlight
                chosen.append(candidates[index].node)
                budget -= 1
                live += 1
                requestCount += 1
            }
        }
        return chosen
    }

    /// `node` answered, returning `nodes` closer to the target (those already known are ignored).
    /// Its id's other endpoints are dropped: the id has answered.
    public mutating func recordAnswer(from node: NodeInfo, nodes: [NodeInfo]) {
        guard let index = candidates.firstIndex(where: { $0.node == node }) else { return }
        candidates[index].status = .answered
        answeredIds.insert(node.id)
        let hop = candidates[index].hop
        candidates.removeAll { $0.node.id == node.id && $0.node != node && $0.status == .waiting }
        add(nodes, hop: hop + 1)
    }

    /// A request to `node` timed out or was refused.
    public mutating func recordFailure(of node: NodeInfo) {
        guard let index = candidates.firstIndex(where: { $0.node == node }) else { return }
        candidates[index].status = .failed
    }

    /// Ends the lookup now (a FIND_VALUE that found its value).
    public mutating func finish() { finishedEarly = true }

    /// True when nothing is in flight and the `k` closest live candidates have all answered (or
    /// there is nobody left to ask), or the driver ended it.
    public var isFinished: Bool {
        if finishedEarly { return true }
        var live = 0
        for candidate in candidates where candidate.status != .failed {
            if candidate.status != .answered { return false }
            live += 1
            if live == k { break }
        }
        return !candidates.contains { $0.status == .inFlight }
    }

    /// Whether requests are still outstanding.
    public var hasRequestsInFlight: Bool { candidates.contains { $0.status == .inFlight } }

    /// The closest nodes that answered, at most `k`, closest first: the lookup's result.
    public var closestAnswered: [NodeInfo] {
        Array(candidates.lazy.filter { $0.status == .answered }.prefix(k).map(\.node))
    }

    /// The number of rounds: the longest chain of answers that led to a node in the result.
    public var rounds: Int {
        candidates.lazy.filter { $0.status == .answered }.prefix(k).map(\.hop).max() ?? 0
    }

    private func isInFlight(_ id: Id) -> Bool {
        candidates.contains { $0.node.id == id && $0.status == .inFlight }
    }

    private mutating func add(_ nodes: [NodeInfo], hop: Int) {
        for node in nodes where node.id != localId && !answeredIds.contains(node.id) && known.insert(node).inserted {
            let candidate = Candidate(node: node, distance: target.distance(to: node.id), hop: hop)
            let position = candidates.partitionPoint { $0.distance < candidate.distance }
            candidates.insert(candidate, at: position)
        }
        // Forget the farthest that were never asked, beyond capacity.
        while candidates.count > capacity, let last = candidates.lastIndex(where: { $0.status == .waiting }) {
            candidates.remove(at: last)
        }
    }
}

extension Array {
    /// The first index whose element does not satisfy `belongsBefore` (the array is partitioned by it).
    func partitionPoint(_ belongsBefore: (Element) -> Bool) -> Int {
        var low = 0, high = count
        while low < high {
            let middle = (low + high) / 2
            if belongsBefore(self[middle]) { low = middle + 1 } else { high = middle }
        }
        return low
    }
}
