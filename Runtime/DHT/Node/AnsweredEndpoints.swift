import CarrierCore

/// The endpoints that answered one of our requests recently, with the time of their last answer
/// (monotonic ms). An answer is sealed by the node we asked and echoes a txid only that node saw,
/// so its endpoint is a real address where a live node listens, not one a spoofer made up. The
/// inbound limit gives such endpoints the contact allowance (`DHTNode.Configuration`): a high rate
/// there cannot be turned into a reflection flood towards a victim that never ran a node.
///
/// Bounded: entries older than `lifetime` no longer count and are dropped when the set is full;
/// if it is still over three quarters full, only the newest half stays.
struct AnsweredEndpoints {
    /// How long an answer vouches for its endpoint (a contact is pinged at least every 15 min).
    let lifetime: Int64
    let capacity: Int
    private var lastAnswer: [Endpoint: Int64] = [:]

    init(lifetime: Int64 = 30 * 60 * 1000, capacity: Int = 65_536) {
        self.lifetime = lifetime
        self.capacity = capacity
    }

    var count: Int { lastAnswer.count }

    /// `endpoint` answered one of our requests at `now`.
    mutating func record(_ endpoint: Endpoint, now: Int64) {
        lastAnswer[endpoint] = now
        guard lastAnswer.count > capacity else { return }
        lastAnswer = lastAnswer.filter { now - $0.value < lifetime }
        if lastAnswer.count > capacity * 3 / 4 {
            let newest = lastAnswer.sorted { $0.value > $1.value }.prefix(capacity / 2)
            lastAnswer = Dictionary(uniqueKeysWithValues: newest.map { ($0.key, $0.value) })
        }
    }

    /// Whether `endpoint`'s last answer is half a lifetime old or more (or it has none): time to
    /// ask it something, so a contact that only sends to us keeps its allowance.
    func needsRenewal(_ endpoint: Endpoint, now: Int64) -> Bool {
        guard let answered = lastAnswer[endpoint] else { return true }
        return now - answered >= lifetime / 2
    }

    /// Whether `endpoint` answered one of our requests within `lifetime` of `now`.
    func contains(_ endpoint: Endpoint, now: Int64) -> Bool {
        guard let answered = lastAnswer[endpoint] else { return false }
        return now - answered < lifetime
    }
}
