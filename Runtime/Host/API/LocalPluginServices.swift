import CarrierCore
import CarrierDHT
import CarrierPluginABI
import Foundation
import Logging

/// The host's own services for one plugin instance: what an in-process plugin calls directly, and
/// what the host serves a plugin runner's requests with.
struct LocalPluginServices: PluginServices {
    let environment: HostEnvironment
    let pluginId: String
    /// The library's own version, announced with the plugin's services.
    let version: String
    /// The manifest's plans, which price the plugin's meters.
    let billing: BillingSection
    /// A token for the offers this instance announces: another instance of the same plugin (after
    /// a reload or a runner restart) cannot withdraw them, nor this one withdraw its successor's.
    let owner = UUID()
    let logger: Logger

    /// `logger` defaults to one labelled with the plugin's id.
    init(environment: HostEnvironment, manifest: PluginManifest, version: String, logger: Logger? = nil) {
        self.environment = environment
        pluginId = manifest.id
        self.version = version
        billing = manifest.billing
        self.logger = logger ?? Logger(label: "carrier.plugin.\(manifest.id)")
    }

    var nodeId: Id { environment.identity.publicKey }

    func log(_ level: carrier_log_level, _ message: String) {
        let levels: [Logger.Level] = [.trace, .debug, .info, .notice, .warning, .error]
        logger.log(level: levels[min(Int(level.rawValue), levels.count - 1)], "\(message)")
    }

    func sign(_ data: [UInt8]) -> [UInt8]? { environment.identity.sign(data) }

    func seal(_ plaintext: [UInt8], to recipient: Id) -> [UInt8]? {
        guard let key = try? SharedKey(between: environment.identity, and: recipient) else { return nil }
        let nonce = Sodium.randomBytes(SharedKey.nonceByteCount)
        return nonce + key.seal(plaintext, nonce: nonce)
    }

    func open(_ sealed: [UInt8], from sender: Id) -> OpenOutcome {
        guard sealed.count >= SharedKey.nonceByteCount + SharedKey.macByteCount,
              let key = try? SharedKey(between: environment.identity, and: sender) else { return .invalid }
        let nonce = Array(sealed[..<SharedKey.nonceByteCount])
        return key.open(Array(sealed[SharedKey.nonceByteCount...]), nonce: nonce).map(OpenOutcome.opened) ?? .refused
    }

    func findNode(_ target: Id) async -> [NodeInfo] { await environment.dht.findNode(target) }
    func findValue(_ id: Id, cas: Int32?) async -> Value? { await environment.dht.findValue(id, cas: cas) }
    func findPeers(_ id: Id, count: Int) async -> [PeerInfo] { await environment.dht.findPeers(id, count: count) }
    func store(_ value: Value, cas: Int32?) async -> WriteOutcome {
        WriteOutcome(try? await environment.dht.storeValueAnswers(value, cas: cas, persistent: false))
    }
    func announce(_ peer: PeerInfo) async -> WriteOutcome {
        WriteOutcome(try? await environment.dht.announcePeerAnswers(peer, persistent: false))
    }
    func events() -> AsyncStream<DHTEvent> { environment.dht.events() }

    func dhtStatus() async -> DHTStatus? {
        let node = environment.dht
        let ipv4 = await node.contactCounts(in: .ipv4), ipv6 = await node.contactCounts(in: .ipv6)
        return DHTStatus(goodIPv4: ipv4.good, dubiousIPv4: ipv4.dubious, goodIPv6: ipv6.good, dubiousIPv6: ipv6.dubious)
    }

    func add(counter name: String, _ delta: Double) -> Bool { environment.metrics.add(counter: name, plugin: pluginId, delta) }
    func set(gauge name: String, _ value: Double) -> Bool { environment.metrics.set(gauge: name, plugin: pluginId, value) }

    func authorize(client: Id, meter: String, estimate: UInt64) -> (carrier_billing_decision, String) {
        environment.billing.authorize(client: client, plugin: pluginId, section: billing, meter: meter, estimate: estimate)
    }

    func reportUsage(client: Id, meter: String, amount: UInt64) {
        environment.billing.report(client: client, plugin: pluginId, section: billing, meter: meter, amount: amount)
        environment.metrics.addUsage(plugin: pluginId, meter: meter, Double(amount))
    }

    func settlementResult(batch: UInt64, paid: Bool, message: String) -> Bool {
        environment.settlement.record(batch: batch, paid: paid, message: message, backend: pluginId)
    }

    func announceService(type: String, endpoint: String) throws(ServiceRegistry.AnnounceError) {
        guard PluginManifest.isValidId(type), endpoint.contains("://") else {
            throw ServiceRegistry.AnnounceError(description: "\"\(type)\" at \"\(endpoint)\" is not a service type and endpoint URI",
                                                status: CARRIER_ERR_INVALID_ARGUMENT)
        }
        _ = try environment.services.announce(type: type, endpointTemplate: endpoint, plugin: pluginId, version: version,
                                          priceSummary: billing.priceSummary, owner: owner)
    }

    func withdrawService(type: String) -> Bool { environment.services.withdraw(type: type, plugin: pluginId, owner: owner) }

    func withdrawAllServices() async { await environment.services.withdrawAll(plugin: pluginId, owner: owner) }
}
