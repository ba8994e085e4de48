import CarrierCore
import CarrierDHT
import CarrierPluginABI
import Dispatch
import Logging
import Synchronization

/// In a plugin runner: the plugin's host-API calls, carried to the host over the runner's socket,
/// each as its `HostRequest` (see its `delivery`): synchronous calls block the plugin's thread for
/// one round trip, at most `roundTripLimit`; DHT calls are asynchronous; logs, metrics and usage
/// are one-way messages, in order.
final class RemotePluginServices: PluginServices {
    let nodeId: Id
    private let socket: RunnerSocket
    private static let logger = Logger(label: "carrier.plugin-runner")
    /// How long a synchronous call waits for the host before it fails.
    static let roundTripLimit: DispatchTimeInterval = .seconds(10)

    private struct State {
        var nextId: UInt64 = 1
        var waiting: [UInt64: @Sendable (RunnerMessage?) -> Void] = [:]
        var events: AsyncStream<DHTEvent>.Continuation?
        /// The kind each metric name was first used as (the host refuses a second kind).
        var metricKinds: [String: Bool] = [:]
    }

    private let state = Mutex(State())

    init(nodeId: Id, socket: RunnerSocket) {
        self.nodeId = nodeId
        self.socket = socket
    }

    // MARK: From the host

    /// An answer (`result`) from the host, for the call with its id.
    func deliver(_ message: RunnerMessage) {
        guard let id = message.id, let waiter = state.withLock({ $0.waiting.removeValue(forKey: id) }) else { return }
        waiter(message)
    }

    /// A DHT event the host forwards to the subscription.
    func deliverEvent(_ event: DHTEvent) {
        _ = state.withLock { $0.events }?.yield(event)
    }

    /// The connection to the host is gone: every waiting call fails now.
    func fail() {
        let waiters = state.withLock { state in
            defer { state.waiting = [:] }
            return Array(state.waiting.values)
        }
        for waiter in waiters { waiter(nil) }
        state.withLock { $0.events }?.finish()
    }

    // MARK: Calls

    /// Sends a request and blocks for its answer (nil when the host did not answer in time).
    private func roundTrip(_ request: HostRequest) -> RunnerMessage? {
        let answer = Mutex<RunnerMessage?>(nil), done = DispatchSemaphore(value: 0)
        let id = register { message in
            answer.withLock { $0 = message }
            done.signal()
        }
        guard sent(request.message(id: id)) else { return nil }
        guard done.wait(timeout: .now() + Self.roundTripLimit) == .success else {
            _ = state.withLock { $0.waiting.removeValue(forKey: id) }
            return nil
        }
        return answer.withLock { $0 }
    }

    /// Sends a request and suspends until its answer (nil if the host went away).
    private func call(_ request: HostRequest) async -> RunnerMessage? {
        await withCheckedContinuation { continuation in
            let id = register { continuation.resume(returning: $0) }
            if !sent(request.message(id: id)) { continuation.resume(returning: nil) }
        }
    }

    /// The reply in `answer` (`.unanswered` without one, or when it cannot be read).
    private static func reply(_ answer: RunnerMessage?, to request: HostRequest) -> HostReply {
        guard let answer else { return .unanswered }
        do { return try HostReply(answer, answering: request) } catch {
            logger.error("unreadable answer from the host", metadata: ["op": "\(answer.op)", "reason": "\(error)"])
            return .unanswered
        }
    }

    /// Sends a request; when it cannot go (too large, or the host is gone) its waiter is dropped
    /// and the reason logged, so the call fails at once instead of waiting.
    private func sent(_ request: RunnerMessage) -> Bool {
        let outcome = socket.send(request)
        guard outcome != .sent else { return true }
        _ = state.withLock { $0.waiting.removeValue(forKey: request.id ?? 0) }
        let why = outcome == .tooLarge ? "it is over the \(RunnerMessage.maxSize)-byte runner message limit" : "the host is not reachable"
        Self.logger.error("request not sent to the host", metadata: ["op": "\(request.op)", "reason": "\(why)"])
        return false
    }

    private func register(_ waiter: @escaping @Sendable (RunnerMessage?) -> Void) -> UInt64 {
        state.withLock { state in
            let id = state.nextId
            state.nextId += 1
            state.waiting[id] = waiter
            return id
        }
    }

    // MARK: PluginServices

    func serve(_ request: HostRequest) -> HostService {
        switch request.delivery {
        case .oneWay:
            switch request {
            case .counter(let name, _) where !claim(name, asCounter: true), .gauge(let name, _) where !claim(name, asCounter: false):
                return .now(.accepted(false))
            case .counter, .gauge:
                socket.send(request.message(id: nil))
                return .now(.accepted(true))
            default:
                socket.send(request.message(id: nil))
                return .now(.done)
            }
        case .synchronous:
            return .now(Self.reply(roundTrip(request), to: request))
        case .asynchronous:
            return .later { [self] in Self.reply(await call(request), to: request) }
        }
    }

    func events() -> AsyncStream<DHTEvent> {
        let (stream, continuation) = AsyncStream<DHTEvent>.makeStream(bufferingPolicy: .bufferingNewest(256))
        state.withLock { $0.events = continuation }
        socket.send(RunnerMessage("subscribe"))
        return stream
    }

    /// The kind each metric name was first used as: the host refuses a second kind, and one-way
    /// messages get no answer, so the runner refuses it itself.
    private func claim(_ name: String, asCounter: Bool) -> Bool {
        state.withLock { state in
            if let kind = state.metricKinds[name] { return kind == asCounter }
            state.metricKinds[name] = asCounter
            return true
        }
    }
}
