import CarrierCore
import CarrierDHT
import CarrierPluginABI
import Dispatch
import Logging
import Synchronization

/// In a plugin runner: the plugin's host-API calls, carried to the host over the runner's socket.
/// Synchronous calls (`sign`, `seal`, `open`, `authorize`, `announceService`, `withdrawService`)
/// block the plugin's thread for one round trip, at most `roundTripLimit`; DHT calls are
/// asynchronous; logs, metrics and usage are one-way messages, in order.
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

    private func send(_ op: String, _ fields: [String: CBOR]) {
        socket.send(RunnerMessage(op, fields))
    }

    /// Sends a request and blocks for its answer (nil when the host did not answer in time).
    private func roundTrip(_ op: String, _ fields: [String: CBOR]) -> RunnerMessage? {
        let answer = Mutex<RunnerMessage?>(nil), done = DispatchSemaphore(value: 0)
        let id = register { message in
            answer.withLock { $0 = message }
            done.signal()
        }
        guard sent(RunnerMessage(op, id: id, fields)) else { return nil }
        guard done.wait(timeout: .now() + Self.roundTripLimit) == .success else {
            _ = state.withLock { $0.waiting.removeValue(forKey: id) }
            return nil
        }
        return answer.withLock { $0 }
    }

    /// Sends a request and suspends until its answer (nil if the host went away).
    private func call(_ op: String, _ fields: [String: CBOR]) async -> RunnerMessage? {
        await withCheckedContinuation { continuation in
            let id = register { continuation.resume(returning: $0) }
            if !sent(RunnerMessage(op, id: id, fields)) { continuation.resume(returning: nil) }
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

    func log(_ level: carrier_log_level, _ message: String) {
        send("log", ["level": .unsigned(UInt64(level.rawValue)), "text": .text(String(decoding: message.utf8.prefix(8192), as: UTF8.self))])
    }

    func sign(_ data: [UInt8]) -> [UInt8]? {
        try? roundTrip("sign", ["data": .bytes(data)])?.bytes("signature")
    }

    func seal(_ plaintext: [UInt8], to recipient: Id) -> [UInt8]? {
        guard let answer = roundTrip("seal", ["data": .bytes(plaintext), "peer": .bytes(recipient.bytes)]), answer.has("sealed") else { return nil }
        return try? answer.bytes("sealed")
    }

    func open(_ sealed: [UInt8], from sender: Id) -> OpenOutcome {
        guard let answer = roundTrip("open", ["data": .bytes(sealed), "peer": .bytes(sender.bytes)]) else { return .invalid }
        if let plain = try? answer.bytes("opened") { return .opened(plain) }
        return answer.has("refused") ? .refused : .invalid
    }

    func findNode(_ target: Id) async -> [NodeInfo] {
        (try? await call("find_node", ["target": .bytes(target.bytes)])?.nodes("nodes")) ?? []
    }

    func findValue(_ id: Id, cas: Int32?) async -> Value? {
        var fields: [String: CBOR] = ["target": .bytes(id.bytes)]
        if let cas { fields["cas"] = .unsigned(UInt64(cas)) }
        guard let answer = await call("find_value", fields), answer.has("value") else { return nil }
        return try? answer.value("value")
    }

    func findPeers(_ id: Id, count: Int) async -> [PeerInfo] {
        (try? await call("find_peers", ["target": .bytes(id.bytes), "count": .unsigned(UInt64(count))])?.peers("peers")) ?? []
    }

    func store(_ value: Value, cas: Int32?) async -> WriteOutcome {
        var fields: [String: CBOR] = ["value": RunnerMessage.encode(value: value)]
        if let cas { fields["cas"] = .unsigned(UInt64(cas)) }
        return writeOutcome(await call("store", fields))
    }

    func announce(_ peer: PeerInfo) async -> WriteOutcome {
        writeOutcome(await call("announce", ["peers": RunnerMessage.encode(peers: [peer])]))
    }

    private func writeOutcome(_ answer: RunnerMessage?) -> WriteOutcome {
        guard let answer, let accepted = try? answer.unsigned("accepted"), let asked = try? answer.unsigned("asked"),
              let conflicts = answer.has("conflicts") ? try? answer.unsigned("conflicts") : 0 else { return .none }
        return WriteOutcome(accepted: Int(clamping: accepted), asked: Int(clamping: asked), conflicts: Int(clamping: conflicts))
    }

    func dhtStatus() async -> DHTStatus? {
        guard let answer = await call("dht_status", [:]) else { return nil }
        func count(_ key: String) throws(RunnerMessage.Malformed) -> Int { Int(clamping: try answer.unsigned(key)) }
        do {
            return DHTStatus(goodIPv4: try count("good4"), dubiousIPv4: try count("dubious4"), goodIPv6: try count("good6"),
                             dubiousIPv6: try count("dubious6"))
        } catch {
            return nil
        }
    }

    func events() -> AsyncStream<DHTEvent> {
        let (stream, continuation) = AsyncStream<DHTEvent>.makeStream(bufferingPolicy: .bufferingNewest(256))
        state.withLock { $0.events = continuation }
        send("subscribe", [:])
        return stream
    }

    func add(counter name: String, _ delta: Double) -> Bool {
        guard claim(name, asCounter: true) else { return false }
        send("counter", ["name": .text(name), "amount": .unsigned(delta.bitPattern)])
        return true
    }

    func set(gauge name: String, _ value: Double) -> Bool {
        guard claim(name, asCounter: false) else { return false }
        send("gauge", ["name": .text(name), "amount": .unsigned(value.bitPattern)])
        return true
    }

    private func claim(_ name: String, asCounter: Bool) -> Bool {
        state.withLock { state in
            if let kind = state.metricKinds[name] { return kind == asCounter }
            state.metricKinds[name] = asCounter
            return true
        }
    }

    func authorize(client: Id, meter: String, estimate: UInt64) -> (carrier_billing_decision, String) {
        guard let answer = roundTrip("authorize", ["client": .bytes(client.bytes), "meter": .text(meter), "amount": .unsigned(estimate)]),
              let decision = try? answer.unsigned("decision"), decision <= UInt64(UInt32.max) else {
            return (CARRIER_BILLING_PAYMENT_REQUIRED, "the host did not answer")
        }
        return (carrier_billing_decision(rawValue: UInt32(decision)), (try? answer.text("reason")) ?? "")
    }

    func reportUsage(client: Id, meter: String, amount: UInt64) {
        send("usage", ["client": .bytes(client.bytes), "meter": .text(meter), "amount": .unsigned(amount)])
    }

    func settlementResult(batch: UInt64, paid: Bool, message: String) -> Bool {
        (try? roundTrip("settled", ["batch": .unsigned(batch), "paid": .unsigned(paid ? 1 : 0), "text": .text(message)])?.unsigned("status"))
            == UInt64(CARRIER_OK.rawValue)
    }

    func announceService(type: String, endpoint: String) throws(ServiceRegistry.AnnounceError) {
        guard let answer = roundTrip("announce_service", ["type": .text(type), "endpoint": .text(endpoint)]),
              let status = try? answer.unsigned("status"), status <= UInt64(UInt32.max) else {
            throw ServiceRegistry.AnnounceError(description: "the host did not answer", status: CARRIER_ERR_TIMEOUT)
        }
        guard status == UInt64(CARRIER_OK.rawValue) else {
            throw ServiceRegistry.AnnounceError(description: (try? answer.text("reason")) ?? "refused", status: carrier_status(rawValue: UInt32(status)))
        }
    }

    func withdrawService(type: String) -> Bool {
        (try? roundTrip("withdraw_service", ["type": .text(type)])?.unsigned("status")) == UInt64(CARRIER_OK.rawValue)
    }

    func withdrawAllServices() async {
        _ = await call("withdraw_all", [:])
    }
}
