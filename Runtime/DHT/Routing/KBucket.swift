import CarrierCore

/// The contacts whose ids share the first `depth` bits of `prefix`: at most K live entries, plus a
/// small cache of candidates to replace failing ones.
public struct KBucket: Sendable {
    /// The bucket's range: ids whose first `depth` bits equal those of `prefix` (the rest is zero).
    public let prefix: Id
    /// Number of leading bits fixed; 0 is the whole id space.
    public let depth: Int
    /// Live contacts, at most the table's bucket size.
    public internal(set) var entries: [RoutingEntry] = []
    /// Candidates, most recently seen last; those that answered are preferred for promotion.
    public internal(set) var replacements: [RoutingEntry] = []
    /// When the bucket last took part in a lookup or was refreshed.
    public internal(set) var lastRefreshed: Int64

    init(prefix: Id, depth: Int, now: Int64) {
        self.prefix = prefix
        self.depth = depth
        self.lastRefreshed = now
    }

    /// Whether `id` falls in this bucket's range.
    public func contains(_ id: Id) -> Bool {
        id.distance(to: prefix).leadingZeroBitCount >= depth
    }

    /// The two halves of this bucket, entries and replacements distributed between them.
    func split() -> (KBucket, KBucket) {
        var low = KBucket(prefix: prefix, depth: depth + 1, now: lastRefreshed)
        var high = KBucket(prefix: prefix.settingBit(depth), depth: depth + 1, now: lastRefreshed)
        for entry in entries {
            if low.contains(entry.id) { low.entries.append(entry) } else { high.entries.append(entry) }
        }
        for entry in replacements {
            if low.contains(entry.id) { low.replacements.append(entry) } else { high.replacements.append(entry) }
        }
        return (low, high)
    }

    /// A uniformly random id in this bucket's range (the target of a refresh lookup).
    public func randomId() -> Id {
        let random = Id.random()
        let mask = Id.prefixMask(bits: depth)
        return (prefix & mask) | (random & ~mask)
    }
}
