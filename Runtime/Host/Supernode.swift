import CarrierCore
import CarrierDHT
import Foundation
import Logging

/// A running supernode: the identity and DHT node that `node.toml` describes, the plugins of the
/// manifests beside it, and the admin HTTP endpoint. `reload()` re-reads the plugin manifests and applies the
/// difference; a change to `node.toml` itself needs a restart.
public actor Supernode {
    public nonisolated let manifestsDirectory: String
    public nonisolated let configuration: NodeConfiguration
    public nonisolated let node: DHTNode
    public nonisolated let plugins: PluginHost
    public nonisolated let metrics: PluginMetrics
    /// The admin endpoint, once started.
    public private(set) var admin: AdminServer?
    /// Issues the final usage receipts of ended billing periods and settles them, every minute.
    private var receipts: Task<Void, Never>?
    private let logger = Logger(label: "carrier.supernode")

    private init(manifestsDirectory: String, configuration: NodeConfiguration, node: DHTNode, plugins: PluginHost, metrics: PluginMetrics) {
        self.manifestsDirectory = manifestsDirectory
        self.configuration = configuration
        self.node = node
        self.plugins = plugins
        self.metrics = metrics
    }

    /// Reads the manifests folder, starts the node (its identity from the data directory, created on
    /// first run), joins through the bootstrap nodes, then starts the enabled plugins. A plugin that
    /// fails, or whose manifest is rejected, is reported in `plugins.status`; the supernode runs on.
    /// A broken `node.toml` is thrown.
    public static func start(manifestsDirectory: String) async throws -> Supernode {
        let manifests = try ManifestSet.loadSkippingBroken(directory: manifestsDirectory)
        let configuration = manifests.node
        let identity = try IdentityFile.loadOrCreate(dataDirectory: configuration.dataDirectory).keyPair
        var settings = DHTNode.Configuration(listen: configuration.listen, dataDirectory: configuration.dataDirectory)
        settings.allowLocal = configuration.allowLocal
        configuration.rateLimits.apply(to: &settings)
        let node = try await DHTNode.start(identity: identity, configuration: settings, ipv6Optional: configuration.listenIsDefault)
        if !configuration.bootstrap.isEmpty { await node.bootstrap(configuration.bootstrap) }
        let metrics = PluginMetrics()
        let registry = ServiceRegistry(identity: identity, dht: node, publicHost: configuration.publicHost)
        let billing: BillingAccounts
        do {
            billing = try BillingAccounts(ledger: try BillingLedger.open(dataDirectory: configuration.dataDirectory))
        } catch {
            await node.stop()
            throw error
        }
        billing.start()
        let environment = HostEnvironment(identity: identity, dht: node, services: registry, metrics: metrics, billing: billing,
                                          dataDirectory: configuration.dataDirectory)
        let plugins = PluginHost(environment: environment)
        await plugins.apply(manifests.plugins, rejected: manifests.rejected)
        await plugins.startHealthChecks(every: .seconds(15))
        let supernode = Supernode(manifestsDirectory: manifestsDirectory, configuration: configuration, node: node, plugins: plugins,
                                  metrics: metrics)
        await supernode.startReceipts(ReceiptBook(ledger: billing.ledger, identity: identity), settlement: environment.settlement)
        do {
            try await supernode.startAdmin()
        } catch {
            await supernode.stop()
            throw AdminServerError("cannot serve the admin endpoint on \(configuration.admin): \(error)")
        }
        return supernode
    }

    private func startReceipts(_ book: ReceiptBook, settlement: SettlementDesk) {
        let logger = self.logger, plugins = self.plugins
        receipts = Task {
            while !Task.isCancelled {
                do {
                    let now = Int64(Date().timeIntervalSince1970)
                    let issued = try book.issue(openPeriods: false, now: now)
                    if !issued.isEmpty { logger.info("usage receipts issued", metadata: ["count": "\(issued.count)"]) }
                    if let backend = await plugins.settlementBackend { try await settlement.settle(with: backend, now: now) }
                } catch {
                    logger.error("usage receipts not issued or settled", metadata: ["error": "\(error)"])
                }
                try? await Task.sleep(for: .seconds(60))
            }
        }
    }

    private func startAdmin() async throws {
        admin = try await AdminServer(binding: configuration.admin, routes: AdminRoutes(supernode: self))
    }

    /// Re-reads the plugin manifests and applies them. On a manifest error nothing changes and the
    /// error is thrown (the running plugins keep running).
    public func reload() async throws(ManifestError) {
        let manifests = try ManifestSet.load(directory: manifestsDirectory)
        if manifests.node != configuration {
            logger.warning("node.toml changed; those changes apply at the next start", metadata: ["file": "\(configuration.file)"])
        }
        await plugins.apply(manifests.plugins)
    }

    /// Stops the plugins (reverse start order), bills the bytes of the sockets they closed, flushes
    /// billing, then stops the node.
    public func stop() async {
        await admin?.close()
        receipts?.cancel()
        await receipts?.value
        await plugins.stopAll()
        await plugins.environment.sockets.stop()
        await plugins.environment.billing.stop()
        await node.stop()
    }
}
