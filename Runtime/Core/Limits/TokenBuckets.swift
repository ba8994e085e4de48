/// Token buckets per key (a source address, a client): `rate` tokens a second, at most `burst`
/// saved up. Times are monotonic milliseconds. Buckets that have refilled completely are
/// forgotten once there are more than 100,000 (they behave like new ones), and the least recently
/// used ones too if that is not enough. The DHT's inbound and
/// outbound limits and the proxy's per-client and per-address limits are all this.
public struct TokenBuckets<Key: Hashable>: Sendable where Key: Sendable {
    public let rate: Double
    public let burst: Double
    private var buckets: [Key: (tokens: Double, updated: Int64)] = [:]

    public init(rate: Double, burst: Double) {
        self.rate = rate
        self.burst = burst
    }

    /// Takes one token for `key` at `now` (ms); false when its bucket is empty.
    public mutating func allow(_ key: Key, now: Int64) -> Bool {
        reserve(key, now: now, maxWait: 0) != nil
    }

    /// Takes one token for `key` at `now` (ms) if there is one: returns 0, or else how many ms
    /// until the next one arrives (nothing taken).
    public mutating func take(_ key: Key, now: Int64) -> Int64 {
        var bucket = buckets[key] ?? (burst, now)
        bucket.tokens = min(burst, bucket.tokens + Double(now - bucket.updated) * rate / 1000)
        bucket.updated = now
        guard bucket.tokens >= 1 else {
            buckets[key] = bucket
            return max(1, Int64(((1 - bucket.tokens) * 1000 / rate).rounded(.up)))
        }
        bucket.tokens -= 1
        buckets[key] = bucket
        if buckets.count > 100_000 { forgetFull(now: now) }
        return 0
    }

    /// Takes one token for `key` at `now` (ms), possibly one that has not arrived yet: returns
    /// how many ms to wait for it (0 if it is there), or nil if that would be over `maxWait` ms.
    /// Waiting callers are spaced `1 / rate` apart, so a burst of requests is paced at the rate
    /// instead of refused.
    public mutating func reserve(_ key: Key, now: Int64, maxWait: Int64) -> Int64? {
        var bucket = buckets[key] ?? (burst, now)
        bucket.tokens = min(burst, bucket.tokens + Double(now - bucket.updated) * rate / 1000)
        bucket.updated = now
        let wait = bucket.tokens >= 1 ? 0 : Int64(((1 - bucket.tokens) * 1000 / rate).rounded(.up))
        guard wait <= maxWait else {
            buckets[key] = bucket
            return nil
        }
        bucket.tokens -= 1
        buckets[key] = bucket
        if buckets.count > 100_000 { forgetFull(now: now) }
        return wait
    }

    /// Drops buckets that have refilled completely (they behave like new ones).
    /// If most are still in use (a flood from many sources), only the most recently used half
    /// stays, so the scan is paid once per 50,000 new keys, not on every one.
    private mutating func forgetFull(now: Int64) {
        buckets = buckets.filter { $0.value.tokens + Double(now - $0.value.updated) * rate / 1000 < burst }
        guard buckets.count > 75_000 else { return }
        let newest = buckets.sorted { $0.value.updated > $1.value.updated }.prefix(50_000)
        buckets = Dictionary(uniqueKeysWithValues: newest.map { ($0.key, $0.value) })
    }
}
