import CarrierCore
import CarrierDHT

/// What the host lends every plugin instance: the node's identity and DHT, the service registry,
/// metrics, and billing.
public struct HostEnvironment: Sendable {
    public let identity: KeyPair
    public let dht: DHTNode
    public let services: ServiceRegistry
    public let metrics: PluginMetrics
    public let billing: BillingAccounts
    /// The TCP sockets whose bytes the host bills from the kernel's counts (ABI 1.6).
    public let sockets: SocketMeter
    /// Settlement of the ledger's final receipts (its state is in the ledger).
    public var settlement: SettlementDesk { SettlementDesk(ledger: billing.ledger, identity: identity) }
    /// Where each plugin's private folder is created (`<dataDirectory>/plugins/<id>`).
    public let dataDirectory: String

    public init(identity: KeyPair, dht: DHTNode, services: ServiceRegistry, metrics: PluginMetrics, billing: BillingAccounts,
                dataDirectory: String, sockets: SocketMeter? = nil) {
        self.identity = identity
        self.dht = dht
        self.services = services
        self.metrics = metrics
        self.billing = billing
        self.sockets = sockets ?? SocketMeter(billing: billing, metrics: metrics)
        self.dataDirectory = dataDirectory
    }
}
