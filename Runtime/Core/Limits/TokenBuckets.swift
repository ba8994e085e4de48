/// Token buckets per key (a source address, a client): `rate` tokens a second, at most `burst`
/// saved up. Times are monotonic milliseconds. The DHT's inbound and outbound limits and the
/// proxy's per-client and per-address limits are all this.
///
/// At most `capacity` buckets are kept, in order of last use. Every call does a bounded amount of
/// work, however many keys there are: it moves its key's bucket to the newest end and forgets at
/// most two from the oldest end: the oldest if there are more than `capacity` (a flood from many
/// sources keeps the newest), or the oldest if it has refilled completely (it behaves like a new
/// one).
public struct TokenBuckets<Key: Hashable>: Sendable where Key: Sendable {
    public let rate: Double
    public let burst: Double
    /// The most buckets kept.
    public let capacity: Int
    /// Buckets forgotten so far (refilled, or the oldest when over `capacity`).
    public private(set) var forgotten = 0

    /// One bucket, linked to its neighbours in order of last use (-1: none).
    private struct Bucket: Sendable {
        var key: Key
        var tokens: Double
        var updated: Int64
        var older: Int
        var newer: Int
    }

    private var slots: [Key: Int] = [:]
    private var buckets: [Bucket] = []
    private var freeSlots: [Int] = []
    private var oldest = -1
    private var newest = -1

    public init(rate: Double, burst: Double, capacity: Int = 100_000) {
        precondition(capacity > 0, "TokenBuckets needs room for one bucket")
        self.rate = rate
        self.burst = burst
        self.capacity = capacity
    }

    /// How many buckets are kept now.
    public var count: Int { slots.count }

    /// Takes one token for `key` at `now` (ms); false when its bucket is empty.
    public mutating func allow(_ key: Key, now: Int64) -> Bool {
        reserve(key, now: now, maxWait: 0) != nil
    }

    /// Takes one token for `key` at `now` (ms) if there is one: returns 0, or else how many ms
    /// until the next one arrives (nothing taken).
    public mutating func take(_ key: Key, now: Int64) -> Int64 {
        let slot = refill(key, now: now)
        guard buckets[slot].tokens >= 1 else {
            return max(1, Int64(((1 - buckets[slot].tokens) * 1000 / rate).rounded(.up)))
        }
        buckets[slot].tokens -= 1
        return 0
    }

    /// Takes one token for `key` at `now` (ms), possibly one that has not arrived yet: returns
    /// how many ms to wait for it (0 if it is there), or nil if that would be over `maxWait` ms.
    /// Waiting callers are spaced `1 / rate` apart, so a burst of requests is paced at the rate
    /// instead of refused.
    public mutating func reserve(_ key: Key, now: Int64, maxWait: Int64) -> Int64? {
        let slot = refill(key, now: now)
        let tokens = buckets[slot].tokens
        let wait = tokens >= 1 ? 0 : Int64(((1 - tokens) * 1000 / rate).rounded(.up))
        guard wait <= maxWait else { return nil }
        buckets[slot].tokens -= 1
        return wait
    }

    /// The slot of `key`'s bucket, refilled to `now` and made the newest; at most two old ones forgotten.
    private mutating func refill(_ key: Key, now: Int64) -> Int {
        let slot: Int
        if let existing = slots[key] {
            slot = existing
            unlink(slot)
            buckets[slot].tokens = min(burst, buckets[slot].tokens + Double(now - buckets[slot].updated) * rate / 1000)
            buckets[slot].updated = now
        } else {
            let bucket = Bucket(key: key, tokens: burst, updated: now, older: -1, newer: -1)
            if let reused = freeSlots.popLast() {
                slot = reused
                buckets[slot] = bucket
            } else {
                slot = buckets.count
                buckets.append(bucket)
            }
            slots[key] = slot
        }
        linkAsNewest(slot)
        for _ in 0..<2 {
            guard oldest != slot, slots.count > capacity || isRefilled(oldest, now: now) else { break }
            forget(oldest)
        }
        return slot
    }

    private func isRefilled(_ slot: Int, now: Int64) -> Bool {
        buckets[slot].tokens + Double(now - buckets[slot].updated) * rate / 1000 >= burst
    }

    private mutating func forget(_ slot: Int) {
        unlink(slot)
        slots[buckets[slot].key] = nil
        freeSlots.append(slot)
        forgotten += 1
    }

    private mutating func unlink(_ slot: Int) {
        let (older, newer) = (buckets[slot].older, buckets[slot].newer)
        if older >= 0 { buckets[older].newer = newer } else { oldest = newer }
        if newer >= 0 { buckets[newer].older = older } else { newest = older }
        buckets[slot].older = -1
        buckets[slot].newer = -1
    }

    private mutating func linkAsNewest(_ slot: Int) {
        buckets[slot].older = newest
        if newest >= 0 { buckets[newest].newer = slot } else { oldest = slot }
        newest = slot
    }
}
