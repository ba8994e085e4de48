import Foundation
import Synchronization

/// Counters for `/node/stats` and the plugin's metrics: requests in progress, open listen
/// streams, and the request rate over the last minute.
final class ProxyStatistics: Sendable {
    private let requestsInFlight = Atomic<Int>(0)
    private let openListeners = Atomic<Int>(0)
    /// Requests counted per second of the last minute, by second (Unix time % 60).
    private let window = Mutex<(seconds: [Int64], counts: [Int])>((Array(repeating: 0, count: 60), Array(repeating: 0, count: 60)))

    var inFlight: Int { requestsInFlight.load(ordering: .relaxed) }
    var listeners: Int { openListeners.load(ordering: .relaxed) }

    /// Requests per second, averaged over the last 60 seconds.
    var requestRate: Double {
        let now = Int64(Date().timeIntervalSince1970)
        let total = window.withLock { window in
            (0..<60).reduce(0) { $0 + (now - window.seconds[$1] < 60 ? window.counts[$1] : 0) }
        }
        return Double(total) / 60
    }

    /// Counts a request for as long as `work` runs.
    func request<T>(_ work: () async -> T) async -> T {
        let now = Int64(Date().timeIntervalSince1970), slot = Int(now % 60)
        window.withLock { window in
            if window.seconds[slot] != now { (window.seconds[slot], window.counts[slot]) = (now, 0) }
            window.counts[slot] += 1
        }
        requestsInFlight.add(1, ordering: .relaxed)
        defer { requestsInFlight.subtract(1, ordering: .relaxed) }
        return await work()
    }

    func listening(_ change: Int) { openListeners.add(change, ordering: .relaxed) }
}
