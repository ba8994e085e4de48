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
    func serve(_ message: RunnerMessage) throws(RunnerMessage.Malformed) {
        switch message.op {
        case "log":
            let level = try message.unsigned("level")
            services.log(carrier_log_level(rawValue: UInt32(min(level, 5))), try message.text("text"))
        case "counter": _ = services.add(counter: try metricName(message), try message.double("amount"))
        case "gauge": _ = services.set(gauge: try metricName(message), try message.double("amount"))
        case "usage": services.reportUsage(client: try message.id("client"), meter: try metricName(message), amount: try units(message))
        case "subscribe": subscribe()
        case "sign":
            answer(message, ["signature": .bytes(services.sign(try message.bytes("data")) ?? [])])
        case "seal":
            let sealed = services.seal(try message.bytes("data"), to: try message.id("peer"))
            answer(message, sealed.map { ["sealed": .bytes($0)] } ?? [:])
        case "open":
            switch services.open(try message.bytes("data"), from: try message.id("peer")) {
            case .opened(let plain): answer(message, ["opened": .bytes(plain)])
            case .refused: answer(message, ["refused": .unsigned(1)])
            case .invalid: answer(message, [:])
            }
        case "authorize":
            let (decision, reason) = services.authorize(client: try message.id("client"), meter: try metricName(message),
                                                        estimate: try units(message))
            answer(message, ["decision": .unsigned(UInt64(decision.rawValue)), "reason": .text(reason)])
        case "announce_service":
            let type = try message.text("type"), endpoint = try message.text("endpoint")
            do throws(ServiceRegistry.AnnounceError) {
                try services.announceService(type: type, endpoint: endpoint)
                answer(message, ["status": .unsigned(UInt64(CARRIER_OK.rawValue))])
            } catch {
                answer(message, ["status": .unsigned(UInt64(error.status.rawValue)), "reason": .text(error.description)])
            }
        case "settled":
            let recorded = services.settlementResult(batch: try message.unsigned("batch"), paid: try message.unsigned("paid") == 1,
                                                     message: try message.text("text"))
            answer(message, ["status": .unsigned(UInt64((recorded ? CARRIER_OK : CARRIER_ERR_NOT_FOUND).rawValue))])
        case "withdraw_service":
            let withdrawn = services.withdrawService(type: try message.text("type"))
            answer(message, ["status": .unsigned(UInt64((withdrawn ? CARRIER_OK : CARRIER_ERR_NOT_FOUND).rawValue))])
        default:
            try serveAsynchronously(message)
        }
    }

    private func serveAsynchronously(_ message: RunnerMessage) throws(RunnerMessage.Malformed) {
        let services = self.services
        let work: @Sendable () async -> [String: CBOR]
        switch message.op {
        case "find_node":
            let target = try message.id("target")
            work = { ["nodes": RunnerMessage.encode(nodes: await services.findNode(target))] }
        case "find_value":
            let target = try message.id("target")
            let cas = message.has("cas") ? try Self.sequenceNumber(message, "cas") : nil
            work = { await services.findValue(target, cas: cas).map { ["value": RunnerMessage.encode(value: $0)] } ?? [:] }
        case "find_peers":
            let target = try message.id("target"), count = try message.unsigned("count")
            guard (1...8).contains(count) else { throw message.missing("count", "1 to 8") }
            work = { ["peers": RunnerMessage.encode(peers: await services.findPeers(target, count: Int(count)))] }
        case "store":
            let value = try message.value("value")
            guard value.isValid else { throw message.missing("value", "a valid value") }
            let cas = message.has("cas") ? try Self.sequenceNumber(message, "cas") : nil
            work = { Self.fields(await services.store(value, cas: cas)) }
        case "announce":
            guard let peer = try message.peers("peers").first, peer.isValid else { throw message.missing("peers", "one valid peer record") }
            work = { Self.fields(await services.announce(peer)) }
        case "withdraw_all":
            work = { await services.withdrawAllServices(); return [:] }
        case "dht_status":
            work = {
                guard let status = await services.dhtStatus() else { return [:] }
                return ["good4": .unsigned(UInt64(status.goodIPv4)), "dubious4": .unsigned(UInt64(status.dubiousIPv4)),
                        "good6": .unsigned(UInt64(status.goodIPv6)), "dubious6": .unsigned(UInt64(status.dubiousIPv6))]
            }
        default:
            throw RunnerMessage.Malformed(description: "unknown op \"\(message.op)\"")
        }
        guard message.id != nil else { throw message.missing("id", "present on \(message.op)") }
        guard inFlight.add(1, ordering: .relaxed).newValue <= Self.maxInFlight else {
            inFlight.subtract(1, ordering: .relaxed)
            answer(message, [:])
            return
        }
        Task {
            let fields = await work()
            inFlight.subtract(1, ordering: .relaxed)
            answer(message, fields)
        }
    }

    private static func fields(_ outcome: WriteOutcome) -> [String: CBOR] {
        ["accepted": .unsigned(UInt64(outcome.accepted)), "asked": .unsigned(UInt64(outcome.asked)),
         "conflicts": .unsigned(UInt64(outcome.conflicts))]
    }

    /// A sequence number field: 0 to Int32.max.
    private static func sequenceNumber(_ message: RunnerMessage, _ key: String) throws(RunnerMessage.Malformed) -> Int32 {
        guard let number = Int32(exactly: try message.unsigned(key)) else { throw message.missing(key, "0 to \(Int32.max)") }
        return number
    }

    /// The units of a billing call, at most `Money.maxUnitsPerCall` (the runner checked them already).
    private func units(_ message: RunnerMessage) throws(RunnerMessage.Malformed) -> UInt64 {
        let amount = try message.unsigned("amount")
        guard amount <= Money.maxUnitsPerCall else { throw message.missing("amount", "at most \(Money.maxUnitsPerCall)") }
        return amount
    }

    private func metricName(_ message: RunnerMessage) throws(RunnerMessage.Malformed) -> String {
        let name = message.has("meter") ? try message.text("meter") : try message.text("name")
        guard PluginMetrics.isValidName(name) else { throw message.missing("name", "a metric name") }
        return name
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
