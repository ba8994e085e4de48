import NIOCore
import Synchronization

/// Every channel the plugin opened on its event loops (listeners, tunnel connections, public
/// connections) that is still open, so `stop` closes them all and waits for them before it shuts
/// the loops down. Without it, the loops' own shutdown closes a relay's one side on a loop that is
/// stopping while its partner's loop has stopped already, and NIO refuses the partner's close.
/// Thread-safe: channels are tracked from any loop.
final class OpenChannels: Sendable {
    private struct State {
        var open: [ObjectIdentifier: Channel] = [:]
        /// Set by `closeAll`: a channel tracked after it is closed at once, and kept in `late`.
        var closing = false
        var late: [Channel] = []
    }

    private let state = Mutex(State())

    /// Keeps `channel` until it closes (called as it is opened, on its event loop or any other).
    /// false when the plugin is stopping: the channel is closed at once and must not be used.
    @discardableResult
    func track(_ channel: Channel) -> Bool {
        let id = ObjectIdentifier(channel)
        let closing = state.withLock { state in
            if state.closing { state.late.append(channel) } else { state.open[id] = channel }
            return state.closing
        }
        if closing {
            channel.close(promise: nil)
            return false
        }
        channel.closeFuture.whenComplete { _ in self.state.withLock { _ = $0.open.removeValue(forKey: id) } }
        return true
    }

    /// The channel `bound` opens (a bind), tracked; fails with `Stopping` when the plugin is
    /// stopping, the channel closed, so that no one hands out a port that is already going.
    func track(bound: EventLoopFuture<Channel>) -> EventLoopFuture<Channel> {
        bound.flatMapThrowing { channel in
            guard self.track(channel) else { throw Stopping() }
            return channel
        }
    }

    /// A bind that completed while the plugin stops.
    struct Stopping: Error, CustomStringConvertible {
        var description: String { "the Shadow service is stopping" }
    }

    /// Closes every open channel, and any tracked from now on; the futures complete as each has
    /// closed, a relay's partner included (it is tracked too).
    func closeAll() -> [EventLoopFuture<Void>] {
        let channels = state.withLock { state in
            state.closing = true
            return Array(state.open.values)
        }
        for channel in channels { channel.close(promise: nil) }
        return channels.map(\.closeFuture)
    }

    /// The close of every channel tracked after `closeAll` (an accept or a bind that completed
    /// while the others closed), to wait for once nothing can open more.
    func closedLate() -> [EventLoopFuture<Void>] {
        state.withLock { $0.late.map(\.closeFuture) }
    }
}
