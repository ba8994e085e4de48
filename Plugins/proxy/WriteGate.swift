import Synchronization

/// Bounds the DHT writes (stores and announcements) the proxy has in progress. A write beyond
/// `limit` is refused at once (503) instead of queued: when the DHT cannot keep up (its per-peer
/// rate limits pace every request), a queue only grows until every client times out, while a
/// quick refusal keeps the writes in progress fast and tells the others to retry.
final class WriteGate: Sendable {
    let limit: Int
    private let inProgress = Atomic<Int>(0)

    init(limit: Int) { self.limit = limit }

    /// Runs `write` if a slot is free, else returns nil at once.
    func run<T>(isolation: isolated (any Actor)? = #isolation, _ write: () async throws -> T) async rethrows -> T? {
        guard inProgress.add(1, ordering: .relaxed).newValue <= limit else {
            inProgress.subtract(1, ordering: .relaxed)
            return nil
        }
        defer { inProgress.subtract(1, ordering: .relaxed) }
        return try await write()
    }

    /// What a refused write is told.
    var busyMessage: String { "the DHT is busy: \(limit) writes in progress through this proxy; retry shortly" }
}
