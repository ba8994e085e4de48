import NIOCore
import Synchronization

/// A server's open connections (at most `perSource` from one source, `total` in all), and how
/// many answers are being worked out, so that closing the server ends both before its event
/// loop goes (a task writing to a shut-down loop would crash a strict NIO).
public final class ServerConnections: Sendable {
    private struct Open {
        var channels: [ObjectIdentifier: Channel] = [:]
        var perSource: [String: Int] = [:]
    }

    let perSource: Int
    let total: Int
    private let open = Mutex(Open())
    private let inProgress = Atomic<Int>(0)

    public init(perSource: Int, total: Int) {
        self.perSource = perSource
        self.total = total
    }

    /// Answers being worked out now.
    public var answering: Int { inProgress.load(ordering: .relaxed) }

    /// Connections open now.
    public var count: Int { open.withLock { $0.channels.count } }

    /// Registers a new connection; the reason it is refused, if its source or the server is full.
    func opened(_ channel: Channel) -> HTTPServerCounters.Refusal? {
        let key = ObjectIdentifier(channel), source = SourceKey.of(channel.remoteAddress?.ipAddress ?? "")
        let refusal = open.withLock { open -> HTTPServerCounters.Refusal? in
            guard open.channels.count < total else { return .connectionsTotal }
            guard open.perSource[source, default: 0] < perSource else { return .connectionsPerSource }
            open.perSource[source, default: 0] += 1
            open.channels[key] = channel
            return nil
        }
        guard refusal == nil else { return refusal }
        channel.closeFuture.whenComplete { [self] _ in
            open.withLock { open in
                open.channels[key] = nil
                open.perSource[source, default: 1] -= 1
                if open.perSource[source] == 0 { open.perSource[source] = nil }
            }
        }
        return nil
    }

    func closeAll() {
        for channel in open.withLock({ Array($0.channels.values) }) { try? channel.close().wait() }
    }

    /// Counts an answer in progress for as long as `work` runs.
    public func answer(_ work: () async -> Void) async {
        inProgress.add(1, ordering: .relaxed)
        defer { inProgress.subtract(1, ordering: .relaxed) }
        await work()
    }
}
