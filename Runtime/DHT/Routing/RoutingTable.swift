import CarrierCore

/// The Kademlia routing table of one address family (BOSON-WIRE.md §7): buckets of at most K
/// contacts covering the id space, split when the bucket holding our own id fills up, each with a
/// replacement cache.
///
/// The liveness rules are the reference's: only contacts that answered one of our requests become
/// entries; a contact that only sent us requests waits in a replacement cache until it answers a
/// ping; failing entries stop being handed out after 3 failures and give way to answering
/// candidates. A diversity bound caps the entries per source unit (IPv4 address, IPv6 /64) so one
/// host cannot fill the table with made-up ids; local testnets, where every node is 127.0.0.1,
/// switch it off. Times are milliseconds on the caller's clock.
public struct RoutingTable: Sendable {
    /// What happened to a contact offered to the table.
    public enum Outcome: Equatable, Sendable {
        /// It was already an entry and was refreshed.
        case updated
        /// It became an entry.
        case inserted
        /// It became an entry in place of a failing one.
        case replaced(Id)
        /// Its bucket is full of healthy entries: it waits in the replacement cache.
        case cached
        /// Our own id.
        case ownId
        /// Its source unit already has the most entries allowed.
        case sourceUnitFull
    }

    /// Our node id; the buckets near it are the finest.
    public let localId: Id
    /// K: entries per bucket (16 in the protocol).
    public let bucketSize: Int
    /// Candidates kept per bucket (8 in the reference).
    public let replacementSize: Int
    /// Most entries one source unit may hold in the whole table; nil turns the bound off.
    public let maxEntriesPerSourceUnit: Int?
    /// Buckets in id order; together they cover the whole id space.
    public private(set) var buckets: [KBucket]

    public init(localId: Id, bucketSize: Int = 16, replacementSize: Int = 8, maxEntriesPerSourceUnit: Int? = 8, now: Int64) {
        precondition(bucketSize >= 1 && replacementSize >= 0, "bucket sizes must be positive")
        self.localId = localId
        self.bucketSize = bucketSize
        self.replacementSize = replacementSize
        self.maxEntriesPerSourceUnit = maxEntriesPerSourceUnit
        self.buckets = [KBucket(prefix: .zero, depth: 0, now: now)]
    }

    /// Number of entries (not counting replacement candidates).
    public var count: Int { buckets.reduce(0) { $0 + $1.entries.count } }

    /// Every entry, bucket by bucket.
    public var entries: [RoutingEntry] { buckets.flatMap(\.entries) }

    /// The index of the bucket whose range holds `id`.
    public func bucketIndex(for id: Id) -> Int {
        // Buckets are sorted by prefix and contiguous: the last one whose prefix is ≤ id holds it.
        var low = 0, high = buckets.count - 1
        while low < high {
            let middle = (low + high + 1) / 2
            if buckets[middle].prefix <= id { low = middle } else { high = middle - 1 }
        }
        return low
    }

    /// The entry for `id`, if it is one.
    public func entry(for id: Id) -> RoutingEntry? {
        buckets[bucketIndex(for: id)].entries.first { $0.id == id }
    }

    /// `node` answered a request of ours after `rtt` ms: it becomes (or stays) an entry if there is room.
    @discardableResult
    public mutating func recordResponse(from node: NodeInfo, rtt: Double? = nil, now: Int64) -> Outcome {
        guard node.id != localId else { return .ownId }
        let index = bucketIndex(for: node.id)
        if let position = buckets[index].entries.firstIndex(where: { $0.id == node.id }) {
            buckets[index].entries[position].node = node  // the envelope proved the id; it may have moved
            buckets[index].entries[position].recordResponse(now: now, rtt: rtt)
            return .updated
        }
        if let limit = maxEntriesPerSourceUnit, entryCount(in: SourceUnit(node.address)) >= limit { return .sourceUnitFull }
        var entry = buckets[index].replacements.first { $0.id == node.id } ?? RoutingEntry(node: node, now: now)
        entry.node = node
        entry.recordResponse(now: now, rtt: rtt)
        buckets[index].replacements.removeAll { $0.id == node.id }
        return place(entry, now: now)
    }

    /// Puts back an entry saved before a restart, with what was known of it (it must have answered
    /// before, or it is skipped). Returns what happened, as for a response.
    @discardableResult
    public mutating func restore(_ entry: RoutingEntry, now: Int64) -> Outcome {
        guard entry.id != localId, entry.reachable, self.entry(for: entry.id) == nil else { return .updated }
        if let limit = maxEntriesPerSourceUnit, entryCount(in: SourceUnit(entry.node.address)) >= limit { return .sourceUnitFull }
        return place(entry, now: now)
    }

    /// Inserts a new entry: into its bucket if there is room (splitting our own bucket as needed), in
    /// place of a replaceable entry, or else into the replacement cache.
    private mutating func place(_ entry: RoutingEntry, now: Int64) -> Outcome {
        var index = bucketIndex(for: entry.id)
        while true {
            if buckets[index].entries.count < bucketSize {
                buckets[index].entries.append(entry)
                return .inserted
            }
            guard buckets[index].contains(localId), buckets[index].depth < 255 else { break }
            let (low, high) = buckets[index].split()
            buckets.replaceSubrange(index...index, with: [low, high])
            index = bucketIndex(for: entry.id)
        }
        if let failing = buckets[index].entries.firstIndex(where: { $0.isReplaceable(now: now) }) {
            let old = buckets[index].entries[failing].id
            buckets[index].entries[failing] = entry
            return .replaced(old)
        }
        addReplacement(entry, toBucket: index)
        return .cached
    }

    /// `node` sent us a request. A known entry is marked as seen; an unknown contact is kept as a
    /// candidate. Returns true when the caller should ping it: only an answer makes it an entry.
    @discardableResult
    public mutating func recordRequest(from node: NodeInfo, now: Int64) -> Bool {
        guard node.id != localId else { return false }
        let index = bucketIndex(for: node.id)
        if let position = buckets[index].entries.firstIndex(where: { $0.id == node.id }) {
            buckets[index].entries[position].lastSeen = now
            return false
        }
        if let limit = maxEntriesPerSourceUnit, entryCount(in: SourceUnit(node.address)) >= limit { return false }
        var candidate = buckets[index].replacements.first { $0.id == node.id } ?? RoutingEntry(node: node, now: now)
        candidate.lastSeen = now
        candidate.node = node
        addReplacement(candidate, toBucket: index)
        return true
    }

    /// We sent `id` a request (for the ping backoff).
    public mutating func recordRequestSent(to id: Id, now: Int64) {
        let index = bucketIndex(for: id)
        if let position = buckets[index].entries.firstIndex(where: { $0.id == id }) {
            buckets[index].entries[position].lastSent = now
        }
    }

    /// A request of ours to `id` timed out. A failing entry gives way to the freshest candidate that
    /// has answered us, if there is one.
    public mutating func recordTimeout(of id: Id, now: Int64) {
        let index = bucketIndex(for: id)
        guard let position = buckets[index].entries.firstIndex(where: { $0.id == id }) else {
            buckets[index].replacements.removeAll { $0.id == id }
            return
        }
        buckets[index].entries[position].recordTimeout()
        guard buckets[index].entries[position].isReplaceable(now: now),
              let candidate = buckets[index].replacements.lastIndex(where: { $0.reachable }) else { return }
        buckets[index].entries[position] = buckets[index].replacements.remove(at: candidate)
    }

    /// Up to `count` eligible entries (answered us, fewer than 3 failures), closest to `target` first.
    /// One pass over the entries keeping the best `count` in order (answering a FIND_NODE sorted
    /// the whole table before, a third of a node's time per request).
    public func closest(to target: Id, count: Int) -> [NodeInfo] {
        guard count > 0 else { return [] }
        var best: [(distance: Id, node: NodeInfo)] = []
        best.reserveCapacity(count + 1)
        for bucket in buckets {
            for entry in bucket.entries where entry.isEligible {
                let distance = target.distance(to: entry.id)
                if best.count == count, !(distance < best[count - 1].distance) { continue }
                let index = best.firstIndex { distance < $0.distance } ?? best.count
                best.insert((distance, entry.node), at: index)
                if best.count > count { best.removeLast() }
            }
        }
        return best.map(\.node)
    }

    /// Entries that are due a ping (questionable or failing, past their backoff).
    public func entriesNeedingPing(now: Int64) -> [RoutingEntry] {
        entries.filter { $0.needsPing(now: now) }
    }

    /// A random target in each bucket not refreshed within `interval` ms, for refresh lookups.
    public func refreshTargets(now: Int64, interval: Int64) -> [Id] {
        buckets.filter { now - $0.lastRefreshed >= interval }.map { $0.randomId() }
    }

    /// A lookup for `target` ran: its bucket counts as refreshed.
    public mutating func markRefreshed(_ target: Id, now: Int64) {
        buckets[bucketIndex(for: target)].lastRefreshed = now
    }

    private func entryCount(in unit: SourceUnit) -> Int {
        buckets.reduce(0) { total, bucket in total + bucket.entries.filter { SourceUnit($0.node.address) == unit }.count }
    }

    /// Adds or refreshes a candidate (most recent last); when over capacity, the oldest candidate that
    /// never answered goes first, else the oldest.
    private mutating func addReplacement(_ candidate: RoutingEntry, toBucket index: Int) {
        guard replacementSize > 0 else { return }
        buckets[index].replacements.removeAll { $0.id == candidate.id }
        buckets[index].replacements.append(candidate)
        if buckets[index].replacements.count > replacementSize {
            let victim = buckets[index].replacements.firstIndex { !$0.reachable } ?? 0
            buckets[index].replacements.remove(at: victim)
        }
    }
}
