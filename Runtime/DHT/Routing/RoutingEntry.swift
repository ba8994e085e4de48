import CarrierCore

/// One contact in the routing table and what we know of its liveness (BOSON-WIRE.md §7).
///
/// Times are milliseconds on the caller's clock (a monotonic clock for a real node, the virtual
/// clock in the simulation).
public struct RoutingEntry: Hashable, Sendable {
    /// Pings are never sent within this long of last hearing from a contact.
    public static let pingQuietPeriod: Int64 = 30_000
    /// A contact silent this long is questionable and gets pinged.
    public static let silenceBeforePing: Int64 = 15 * 60_000
    /// Base of the retry backoff after failures: 1 min × 2^min(5, failures − 1).
    public static let pingBackoffBase: Int64 = 60_000

    public var node: NodeInfo
    /// When we first learned of it.
    public var created: Int64
    /// Last time it answered a request of ours, or sent us one.
    public var lastSeen: Int64
    /// Last time we sent it a request (0 = never).
    public var lastSent: Int64 = 0
    /// Requests of ours it failed to answer since it last answered.
    public var failedRequests = 0
    /// Whether it has ever answered a request of ours (only such contacts are handed out).
    public var reachable = false
    /// Smoothed round-trip time in milliseconds, 0 until measured.
    public var averageRTT: Double = 0

    public init(node: NodeInfo, now: Int64) {
        self.node = node
        self.created = now
        self.lastSeen = now
    }

    public var id: Id { node.id }

    /// May it be handed out in a FIND_NODE answer or used to start a lookup?
    public var isEligible: Bool { reachable && failedRequests < 3 }

    /// Is it time to ping it: it failed (with backoff) or has been silent 15 minutes, and we have not
    /// heard from it in the last 30 seconds.
    public func needsPing(now: Int64) -> Bool {
        guard now - lastSeen >= RoutingEntry.pingQuietPeriod else { return false }
        if failedRequests > 0 {
            let backoff = RoutingEntry.pingBackoffBase << Int64(min(5, failedRequests - 1))
            return now - lastSent >= backoff
        }
        return now - lastSeen >= RoutingEntry.silenceBeforePing
    }

    /// May a fresher contact take its place?
    public func isReplaceable(now: Int64) -> Bool {
        (failedRequests > 1 && !reachable) || failedRequests > 5
            || (failedRequests > 2 && now - lastSeen > RoutingEntry.silenceBeforePing)
    }

    /// It answered a request of ours after `rtt` milliseconds.
    mutating func recordResponse(now: Int64, rtt: Double?) {
        lastSeen = now
        failedRequests = 0
        reachable = true
        if let rtt { averageRTT = averageRTT == 0 ? rtt : averageRTT * 0.8 + rtt * 0.2 }
    }

    /// A request of ours to it timed out.
    mutating func recordTimeout() {
        failedRequests += 1
    }
}
