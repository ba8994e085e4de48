import CarrierCore
import Foundation
import Synchronization

/// Core's `TokenBuckets` by text key (a client id, a source address), shared by the proxy's
/// request handlers: `rate` requests a second on average, up to `burst` at once.
final class RateLimiter: Sendable {
    private let buckets: Mutex<TokenBuckets<String>>

    init(rate: Double, burst: Double) {
        buckets = Mutex(TokenBuckets(rate: rate, burst: burst))
    }

    /// Takes one token for `key`; false when its bucket is empty.
    func allow(_ key: String) -> Bool {
        let now = Int64(ProcessInfo.processInfo.systemUptime * 1000)
        return buckets.withLock { $0.allow(key, now: now) }
    }
}
