import CarrierCore
import CarrierDHT
import CarrierPluginABI

/// What one plugin instance's host-API calls reach. In process, `LocalPluginServices` serves them
/// from the host's own identity, DHT, registry and metrics; in a plugin runner,
/// `RemotePluginServices` carries them over the runner's socket to the host, which serves them with
/// a `LocalPluginServices` of its own. `PluginContext` and the C table in `HostAPI` are the same in
/// both places, so a plugin cannot tell where it runs.
///
/// Synchronous functions may block the calling thread for a round trip to the host (in a runner);
/// none is called while a lock is held.
protocol PluginServices: Sendable {
    /// The node's id (its public key).
    var nodeId: Id { get }

    /// Logs a line for the plugin.
    func log(_ level: carrier_log_level, _ message: String)

    /// Signs `data` with the node's key; nil if the host cannot be reached.
    func sign(_ data: [UInt8]) -> [UInt8]?
    /// `nonce ‖ MAC ‖ ciphertext` of `plaintext` for `recipient`; nil if `recipient` is not a valid key.
    func seal(_ plaintext: [UInt8], to recipient: Id) -> [UInt8]?
    /// What `seal` of `sender` produced for this node, opened; `.refused` when it does not authenticate.
    func open(_ sealed: [UInt8], from sender: Id) -> OpenOutcome

    func findNode(_ target: Id) async -> [NodeInfo]
    func findValue(_ id: Id, cas: Int32?) async -> Value?
    func findPeers(_ id: Id, count: Int) async -> [PeerInfo]
    /// Stores a (valid) value on the closest nodes; with a `cas`, only where no newer version is
    /// held (the others are counted as conflicts).
    func store(_ value: Value, cas: Int32?) async -> WriteOutcome
    /// Announces a (valid) peer record on the closest nodes.
    func announce(_ peer: PeerInfo) async -> WriteOutcome
    /// The node's DHT events, from now on (one subscription per instance).
    func events() -> AsyncStream<DHTEvent>
    /// The node's routing-table counts; nil if the host could not be reached.
    func dhtStatus() async -> DHTStatus?

    /// Adds to a plugin counter; false if the name is a gauge.
    func add(counter name: String, _ delta: Double) -> Bool
    /// Sets a plugin gauge; false if the name is a counter.
    func set(gauge name: String, _ value: Double) -> Bool

    /// Whether `client` may use `estimate` units of `meter` (of a defined meter), with a reason when not.
    func authorize(client: Id, meter: String, estimate: UInt64) -> (carrier_billing_decision, String)
    /// Records use of a defined meter.
    func reportUsage(client: Id, meter: String, amount: UInt64)

    /// A settlement backend's outcome for a batch; false if the batch is unknown or already paid.
    func settlementResult(batch: UInt64, paid: Bool, message: String) -> Bool

    /// Announces an offer of the plugin for `type` at `endpoint` (a template).
    func announceService(type: String, endpoint: String) throws(ServiceRegistry.AnnounceError)
    /// Withdraws the plugin's offer for `type`; false if it had none.
    func withdrawService(type: String) -> Bool
    /// Withdraws every offer of the instance and waits until the withdrawals are published.
    func withdrawAllServices() async
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
struct DHTStatus: Sendable, Equatable {
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
