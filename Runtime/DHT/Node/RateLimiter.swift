/// Token buckets per key: `rate` tokens a second, at most `burst` saved up. Counts what it refuses.
struct RateLimiter<Key: Hashable> {
    let rate: Double
    let burst: Double
    private var buckets: [Key: (tokens: Double, updated: Int64)] = [:]

    init(rate: Double, burst: Double) {
        self.rate = rate
        self.burst = burst
    }

    /// Takes one token for `key` at `now` (ms); false when its bucket is empty.
    mutating func allow(_ key: Key, now: Int64) -> Bool {
        var bucket = buckets[key] ?? (burst, now)
        bucket.tokens = min(burst, bucket.tokens + Double(now - bucket.updated) * rate / 1000)
        bucket.updated = now
        let allowed = bucket.tokens >= 1
        if allowed { bucket.tokens -= 1 }
        buckets[key] = bucket
        if buckets.count > 100_000 { forgetFull(now: now) }
        return allowed
    }

    /// Drops buckets that have refilled completely (they behave like new ones).
    private mutating func forgetFull(now: Int64) {
        buckets = buckets.filter { $0.value.tokens + Double(now - $0.value.updated) * rate / 1000 < burst }
    }
}
