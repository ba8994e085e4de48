import CarrierCore
import Logging

/// Reconnection: a family with no live contact goes back to its bootstrap list and its saved
/// contacts on `ReconnectSchedule` (1, 2, 4, 8, then every 15 s, jittered), checked every second;
/// an operation that finds no contact to start from tries at once. A contact that answers is live
/// again at once (`RoutingEntry.recordResponse`), and a lookup of our own id then refills the table.
extension DHTNode {
    /// Most contacts pinged in one reconnection round.
    public static let maxReconnectCandidates = 32

    /// Whether `family`'s routing table has a contact that answered and is not failing.
    func hasLiveContact(in family: AddressFamily) -> Bool {
        tables[family]?.buckets.contains { bucket in bucket.entries.contains { $0.isEligible } } ?? false
    }

    /// The recovery loop's tick: reconnects each family that is cut off and due an attempt.
    func checkConnectivity() async {
        for family in families where !reconnecting.contains(family) {
            let connected = hasLiveContact(in: family)
            if reconnectSchedules[family, default: ReconnectSchedule()].isDue(now: monotonic, connected: connected) {
                await reconnect(in: family)
            }
        }
    }

    /// An operation found no live contact in `family`: reconnects now, unless an attempt was made
    /// within the last second or is running.
    func reconnectNow(in family: AddressFamily) async {
        guard !reconnecting.contains(family) else { return }
        reconnectSchedules[family, default: ReconnectSchedule()].expedite(now: monotonic)
        if reconnectSchedules[family, default: ReconnectSchedule()].isDue(now: monotonic, connected: hasLiveContact(in: family)) {
            await reconnect(in: family)
        }
    }

    /// One round: pings the bootstrap nodes and saved contacts of `family` at once (one attempt
    /// each), and, if any answered, looks up our own id to refill the table.
    private func reconnect(in family: AddressFamily) async {
        let candidates = reconnectCandidates(in: family)
        guard !candidates.isEmpty, reconnecting.insert(family).inserted else { return }
        counted.reconnectAttempts += 1
        let answered = await withTaskGroup(of: Bool.self) { group in
            for node in candidates {
                group.addTask(executorPreference: taskExecutor) {
                    if case .success = await self.call(.pingRequest, to: node) { return true }
                    return false
                }
            }
            var answered = 0
            for await reached in group where reached { answered += 1 }
            return answered
        }
        if answered > 0 {
            counted.reconnections += 1
            let level: Logger.Level = reconnectSchedules[family]?.wasConnected == true ? .info : .debug
            logger.log(level: level, "reconnected", metadata: ["family": "\(family)", "answered": "\(answered) of \(candidates.count)"])
            _ = await lookup(id, in: family) { [id] want in .findNodeRequest(FindNodeRequest(target: id, want: want)) } onAnswer: { _, _ in false }
        }
        reconnecting.remove(family)
    }

    /// The bootstrap nodes of `family` first, then the table's entries and the candidates that
    /// once answered, most recently heard from first; at most `maxReconnectCandidates`.
    private func reconnectCandidates(in family: AddressFamily) -> [NodeInfo] {
        var seen: Set<Id> = [id]
        var chosen: [NodeInfo] = []
        let bootstrap = bootstrapNodes.filter { Endpoint(address: $0.address, port: $0.port).family == family }
        let saved = (tables[family]?.buckets ?? []).flatMap { $0.entries + $0.replacements.filter(\.reachable) }
            .sorted { $0.lastSeen > $1.lastSeen }.map(\.node)
        for node in bootstrap + saved where chosen.count < Self.maxReconnectCandidates && seen.insert(node.id).inserted {
            chosen.append(node)
        }
        return chosen
    }
}
