import Foundation
import Synchronization

/// Hands each event to every current subscriber. A subscriber that falls `bufferLimit` events
/// behind loses the oldest ones (and only it: a slow subscriber never holds up the sender or the
/// others). Thread-safe; `send` never blocks.
public final class EventBroadcaster<Event: Sendable>: Sendable {
    private let subscribers = Mutex<[UUID: AsyncStream<Event>.Continuation]>([:])
    /// Events kept per subscriber before the oldest are dropped.
    public let bufferLimit: Int

    public init(bufferLimit: Int = 1024) {
        self.bufferLimit = bufferLimit
    }

    /// A stream of the events sent from now on; it ends when the caller stops iterating it.
    public func subscribe() -> AsyncStream<Event> {
        let (stream, continuation) = AsyncStream.makeStream(of: Event.self, bufferingPolicy: .bufferingNewest(bufferLimit))
        let key = UUID()
        continuation.onTermination = { [weak self] _ in self?.subscribers.withLock { _ = $0.removeValue(forKey: key) } }
        subscribers.withLock { $0[key] = continuation }
        return stream
    }

    /// How many streams are subscribed.
    public var subscriberCount: Int { subscribers.withLock { $0.count } }

    /// Sends `event` to every subscriber.
    public func send(_ event: Event) {
        for continuation in subscribers.withLock({ Array($0.values) }) { continuation.yield(event) }
    }
}
