import CarrierCore
import CarrierDHT
import CarrierPluginABI
import Synchronization

/// The host's side of a runner's host-API calls: each request is served with the instance's
/// `LocalPluginServices`, as the same call from an in-process plugin would be.
///
/// Synchronous calls and one-way messages are served on the socket's reader thread, in the order
/// they were sent (an announcement and its withdrawal cannot swap). DHT calls run as tasks, at
/// most `maxInFlight` at once per runner; beyond that a call is answered at once as failed, so a
/// runaway plugin cannot make the host queue without bound.
final class RunnerCalls: Sendable {
    static let maxInFlight = 256

    let services: LocalPluginServices
    private let socket: RunnerSocket
    private let inFlight = Atomic<Int>(0)
    private let subscription = Mutex<Task<Void, Never>?>(nil)
    /// Events not sent because the runner had not read its backlog.
    private let droppedEvents = Atomic<Int>(0)

    /// Called when an answer cannot be sent because the runner has not read its backlog: a
    /// runner that does not read is stuck, and its calls would wait forever.
    private let overwhelmed: @Sendable () -> Void

    init(services: LocalPluginServices, socket: RunnerSocket, overwhelmed: @escaping @Sendable () -> Void) {
        self.services = services
        self.socket = socket
        self.overwhelmed = overwhelmed
    }

    /// Serves one request of the runner; a malformed one is thrown (the runner is then dropped).
    func serve(_ message: RunnerMessage) throws(MalformedRunnerMessage) {
        if message.op == "subscribe" { return subscribe() }
        let request = try HostRequest(message)
        switch services.serve(request) {
        case .now(let reply):
            if request.delivery != .oneWay { answer(message, reply.fields) }
        case .later(let work):
            guard inFlight.add(1, ordering: .relaxed).newValue <= Self.maxInFlight else {
                inFlight.subtract(1, ordering: .relaxed)
                answer(message, HostReply.unanswered.fields)
                return
            }
            Task {
                let reply = await work()
                inFlight.subtract(1, ordering: .relaxed)
                answer(message, reply.fields)
            }
        }
    }

    private func answer(_ request: RunnerMessage, _ fields: [String: CBOR]) {
        guard let id = request.id else { return }
        switch socket.send(RunnerMessage("result", id: id, fields), waiting: false) {
        case .sent, .closed: break
        case .full: overwhelmed()
        // Cannot happen with today's records (they are bounded far below the limit), but an answer
        // that does not fit fails the call rather than leaving it waiting.
        case .tooLarge: socket.send(RunnerMessage("result", id: id), waiting: false)
        }
    }

    /// Forwards the node's events to the runner; when the runner lags, events are dropped (and counted).
    private func subscribe() {
        let events = services.events(), socket = self.socket
        let task = Task { [self] in
            for await event in events {
                let fields: [String: CBOR] = switch event {
                case .valueUpdated(let value): ["value": RunnerMessage.encode(value: value)]
                case .peerAnnounced(let peer): ["peers": RunnerMessage.encode(peers: [peer])]
                }
                switch socket.send(RunnerMessage("event", fields), waiting: false) {
                case .sent: continue
                case .full, .tooLarge: droppedEvents.add(1, ordering: .relaxed)
                case .closed: return
                }
            }
        }
        subscription.withLock { $0?.cancel(); $0 = task }
    }

    /// The runner is gone: stops forwarding events, and logs how many it could not take.
    func close() {
        subscription.withLock { $0?.cancel(); $0 = nil }
        let dropped = droppedEvents.load(ordering: .relaxed)
        if dropped > 0 { services.log(CARRIER_LOG_WARNING, "\(dropped) DHT events were dropped: the plugin runner did not read them in time") }
    }
}
