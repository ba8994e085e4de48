import CarrierCore
import CarrierDHT
import CarrierPluginABI

/// What one plugin instance's host-API calls reach. In process, `LocalPluginServices` serves them
/// from the host's own identity, DHT, registry and metrics; in a plugin runner,
/// `RemotePluginServices` carries them over the runner's socket to the host, which serves them with
/// a `LocalPluginServices` of its own. `PluginContext` and the C table in `HostAPI` are the same in
/// both places, so a plugin cannot tell where it runs.
///
/// Every call is one `HostRequest`, answered by `serve` with a `HostReply`; the typed functions
/// below are that round trip, with each call's answer when none came. Synchronous ones may block
/// the calling thread for a round trip to the host (in a runner); none is called while a lock is held.
protocol PluginServices: Sendable {
    /// The node's id (its public key).
    var nodeId: Id { get }

    /// Serves one call: its reply now, or the work that produces it.
    func serve(_ request: HostRequest) -> HostService

    /// The node's DHT events, from now on (one subscription per instance).
    func events() -> AsyncStream<DHTEvent>
}

/// How `PluginServices.serve` answers: at once, or by work to await (a DHT call).
enum HostService: Sendable {
    case now(HostReply)
    case later(@Sendable () async -> HostReply)

    var reply: HostReply {
        get async {
            switch self {
            case .now(let reply): reply
            case .later(let work): await work()
            }
        }
    }

    /// The reply of a call that is answered at once (`.unanswered` for one that is not).
    var immediate: HostReply {
        guard case .now(let reply) = self else { return .unanswered }
        return reply
    }
}

extension PluginServices {
    /// Logs a line for the plugin.
    func log(_ level: carrier_log_level, _ message: String) { _ = serve(.log(level: level.rawValue, text: message)) }

    /// Signs `data` with the node's key; nil if the host cannot be reached.
    func sign(_ data: [UInt8]) -> [UInt8]? {
        guard case .signature(let signature) = serve(.sign(data: data)).immediate else { return nil }
        return signature
    }

    /// `nonce ‖ MAC ‖ ciphertext` of `plaintext` for `recipient`; nil if `recipient` is not a valid key.
    func seal(_ plaintext: [UInt8], to recipient: Id) -> [UInt8]? {
        guard case .sealed(let sealed) = serve(.seal(plaintext: plaintext, recipient: recipient)).immediate else { return nil }
        return sealed
    }

    /// What `seal` of `sender` produced for this node, opened; `.refused` when it does not authenticate.
    func open(_ sealed: [UInt8], from sender: Id) -> OpenOutcome {
        guard case .opened(let outcome) = serve(.open(sealed: sealed, sender: sender)).immediate else { return .invalid }
        return outcome
    }

    func findNode(_ target: Id) async -> [NodeInfo] {
        guard case .nodes(let nodes) = await serve(.findNode(target: target)).reply else { return [] }
        return nodes
    }

    /// The value, or why there is none; nil if the host did not answer.
    func findValue(_ id: Id, cas: Int32?) async -> SearchOutcome<Value>? {
        guard case .value(let outcome) = await serve(.findValue(id: id, cas: cas)).reply else { return nil }
        return outcome
    }

    /// The records, or why there are none; nil if the host did not answer.
    func findPeers(_ id: Id, count: Int) async -> SearchOutcome<[PeerInfo]>? {
        guard case .peers(let outcome) = await serve(.findPeers(id: id, count: count)).reply else { return nil }
        return outcome
    }

    /// Stores a (valid) value on the closest nodes; with a `cas`, only where no newer version is
    /// held (the others are counted as conflicts).
    func store(_ value: Value, cas: Int32?) async -> WriteOutcome {
        guard case .written(let outcome) = await serve(.store(value: value, cas: cas)).reply else { return .none }
        return outcome
    }

    /// Announces a (valid) peer record on the closest nodes.
    func announce(_ peer: PeerInfo) async -> WriteOutcome {
        guard case .written(let outcome) = await serve(.announce(peer: peer)).reply else { return .none }
        return outcome
    }

    /// The node's routing-table counts; nil if the host could not be reached.
    func dhtStatus() async -> RoutingTableCounts? {
        guard case .dhtStatus(let status) = await serve(.dhtStatus).reply else { return nil }
        return status
    }

    /// Adds to a plugin counter; false if the name is a gauge.
    func add(counter name: String, _ delta: Double) -> Bool { serve(.counter(name: name, delta: delta)).immediate == .accepted(true) }
    /// Sets a plugin gauge; false if the name is a counter.
    func set(gauge name: String, _ value: Double) -> Bool { serve(.gauge(name: name, value: value)).immediate == .accepted(true) }

    /// Whether `client` may use `estimate` units of `meter` (of a defined meter), with a reason when not.
    func authorize(client: Id, meter: String, estimate: UInt64) -> (carrier_billing_decision, String) {
        guard case .decision(let decision, let reason) = serve(.authorize(client: client, meter: meter, estimate: estimate)).immediate else {
            return (CARRIER_BILLING_PAYMENT_REQUIRED, "the host did not answer")
        }
        return (decision, reason)
    }

    /// The plan the plugin bills `client` by: `.plan(nil)` when its manifest has none,
    /// `.unanswered` when the host could not be reached.
    func clientPlan(_ client: Id) -> HostReply { serve(.clientPlan(client: client)).immediate }

    /// Records use of a defined meter.
    func reportUsage(client: Id, meter: String, amount: UInt64) { _ = serve(.usage(client: client, meter: meter, amount: amount)) }

    /// A settlement backend's outcome for a batch; false if the batch is unknown or already paid.
    func settlementResult(batch: UInt64, paid: Bool, message: String) -> Bool {
        serve(.settlementResult(batch: batch, paid: paid, message: message)).immediate == .recorded(true)
    }

    /// Announces an offer of the plugin for `type` at `endpoint` (a template).
    func announceService(type: String, endpoint: String) throws(ServiceRegistry.AnnounceError) {
        guard case .announced(let status, let reason) = serve(.announceService(type: type, endpoint: endpoint)).immediate else {
            throw ServiceRegistry.AnnounceError(description: "the host did not answer", status: CARRIER_ERR_TIMEOUT)
        }
        guard status == CARRIER_OK else { throw ServiceRegistry.AnnounceError(description: reason.isEmpty ? "refused" : reason, status: status) }
    }

    /// Withdraws the plugin's offer for `type`; false if it had none.
    func withdrawService(type: String) -> Bool { serve(.withdrawService(type: type)).immediate == .recorded(true) }

    /// Withdraws every offer of the instance and waits until the withdrawals are published.
    func withdrawAllServices() async { _ = await serve(.withdrawAllServices).reply }
}

/// How a store or announcement went: how many of the closest nodes accepted it, of how many asked.
struct WriteOutcome: Sendable, Equatable {
    let accepted: Int
    let asked: Int
    /// How many refused because they hold a version newer than the write's `cas`, or one at least
    /// as new as the write (a stale write).
    let conflicts: Int

    /// Nothing asked (the node could not write at all).
    static let none = WriteOutcome(accepted: 0, asked: 0)

    /// The status a plugin gets: CONFLICT if any node holds a newer version, OK if one accepted,
    /// UNREACHABLE if no node was reached, else REFUSED (the closest answered and said no).
    var status: carrier_status {
        if conflicts > 0 { return CARRIER_ERR_CONFLICT }
        if accepted > 0 { return CARRIER_OK }
        return asked == 0 ? CARRIER_ERR_UNREACHABLE : CARRIER_ERR_REFUSED
    }

    init(accepted: Int, asked: Int, conflicts: Int = 0) {
        self.accepted = accepted
        self.asked = asked
        self.conflicts = conflicts
    }

    /// From the DHT's per-node answers (nil when the write threw).
    init(_ answers: [Id: WriteAnswer]?) {
        let answers = answers ?? [:]
        self.init(accepted: answers.values.filter { $0 == .accepted }.count, asked: answers.count,
                  conflicts: answers.values.filter { $0 == .conflict || $0 == .stale }.count)
    }
}

/// The node's routing tables in counts: `good` contacts answered and failed fewer than 3 requests
/// in a row since, `dubious` ones never answered or are failing (see `DHTNode.contactCounts`).
struct RoutingTableCounts: Sendable, Equatable {
    var goodIPv4 = 0, dubiousIPv4 = 0, goodIPv6 = 0, dubiousIPv6 = 0
}

/// What `open` gave.
enum OpenOutcome: Sendable, Equatable {
    case opened([UInt8])
    /// The box did not authenticate (wrong key, altered bytes).
    case refused
    /// The sender is not a valid key, or the host could not be reached.
    case invalid
}
