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

    func serve(_ request: HostRequest) -> HostService {
        switch request {
        case .log(let level, let text):
            let levels: [Logger.Level] = [.trace, .debug, .info, .notice, .warning, .error]
            logger.log(level: levels[min(Int(level), levels.count - 1)], "\(text)")
            return .now(.done)
        case .counter(let name, let delta): return .now(.accepted(environment.metrics.add(counter: name, plugin: pluginId, delta)))
        case .gauge(let name, let value): return .now(.accepted(environment.metrics.set(gauge: name, plugin: pluginId, value)))
        case .usage(let client, let meter, let amount):
            environment.billing.report(client: client, plugin: pluginId, section: billing, meter: meter, amount: amount)
            environment.metrics.addUsage(plugin: pluginId, meter: meter, Double(amount))
            return .now(.done)
        case .sign(let data): return .now(.signature(environment.identity.sign(data)))
        case .seal(let plaintext, let recipient): return .now(.sealed(seal(plaintext, to: recipient)))
        case .open(let sealed, let sender): return .now(.opened(open(sealed, from: sender)))
        case .authorize(let client, let meter, let estimate):
            let (decision, reason) = environment.billing.authorize(client: client, plugin: pluginId, section: billing, meter: meter, estimate: estimate)
            return .now(.decision(decision, reason: reason))
        case .clientPlan(let client): return .now(.plan(plan(of: client)))
        case .countSocket(let client, let meter, let socket, let before):
            let outcome = environment.sockets.count(socket, plugin: pluginId, client: client, meter: meter, section: billing, before: before)
            return .now(.counted(outcome.status))
        case .settlementResult(let batch, let paid, let message):
            return .now(.recorded(environment.settlement.record(batch: batch, paid: paid, message: message, backend: pluginId)))
        case .announceService(let type, let endpoint): return .now(announceService(type: type, endpoint: endpoint))
        case .withdrawService(let type): return .now(.recorded(environment.services.withdraw(type: type, plugin: pluginId, owner: owner)))
        case .findNode(let target):
            let dht = environment.dht
            return .later { .nodes(await dht.findNode(target)) }
        case .findValue(let id, let cas):
            let dht = environment.dht
            return .later { .value(await dht.searchValue(id, cas: cas)) }
        case .findPeers(let id, let count):
            let dht = environment.dht
            return .later { .peers(await dht.searchPeers(id, count: count)) }
        case .store(let value, let cas):
            let dht = environment.dht
            return .later { .written(WriteOutcome(try? await dht.storeValueAnswers(value, cas: cas, persistent: false))) }
        case .announce(let peer):
            let dht = environment.dht
            return .later { .written(WriteOutcome(try? await dht.announcePeerAnswers(peer, persistent: false))) }
        case .withdrawAllServices:
            let services = environment.services, plugin = pluginId, owner = self.owner
            return .later {
                await services.withdrawAll(plugin: plugin, owner: owner)
                return .done
            }
        case .dhtStatus:
            let node = environment.dht
            return .later {
                let ipv4 = await node.contactCounts(in: .ipv4), ipv6 = await node.contactCounts(in: .ipv6)
                return .dhtStatus(RoutingTableCounts(goodIPv4: ipv4.good, dubiousIPv4: ipv4.dubious, goodIPv6: ipv6.good, dubiousIPv6: ipv6.dubious))
            }
        }
    }

    func events() -> AsyncStream<DHTEvent> { environment.dht.events() }

    /// The plan `client` is billed by here; with the ledger unreadable, the default plan (logged),
    /// as `report` counts from an empty account then.
    private func plan(of client: Id) -> String? {
        do {
            return try environment.billing.plan(of: client, section: billing)
        } catch {
            logger.error("billing ledger unreadable; answering the default plan", metadata: ["error": "\(error)"])
            return billing.defaultPlan
        }
    }

    private func seal(_ plaintext: [UInt8], to recipient: Id) -> [UInt8]? {
        guard let key = try? SharedKey(between: environment.identity, and: recipient) else { return nil }
        let nonce = Sodium.randomBytes(SharedKey.nonceByteCount)
        return nonce + key.seal(plaintext, nonce: nonce)
    }

    private func open(_ sealed: [UInt8], from sender: Id) -> OpenOutcome {
        guard sealed.count >= SharedKey.nonceByteCount + SharedKey.macByteCount,
              let key = try? SharedKey(between: environment.identity, and: sender) else { return .invalid }
        let nonce = Array(sealed[..<SharedKey.nonceByteCount])
        return key.open(Array(sealed[SharedKey.nonceByteCount...]), nonce: nonce).map(OpenOutcome.opened) ?? .refused
    }

    private func announceService(type: String, endpoint: String) -> HostReply {
        guard PluginManifest.isValidId(type), endpoint.contains("://") else {
            return .announced(CARRIER_ERR_INVALID_ARGUMENT, reason: "\"\(type)\" at \"\(endpoint)\" is not a service type and endpoint URI")
        }
        do throws(ServiceRegistry.AnnounceError) {
            _ = try environment.services.announce(type: type, endpointTemplate: endpoint, plugin: pluginId, version: version,
                                                  priceSummary: billing.priceSummary, prices: billing.servicePrices, owner: owner)
            return .announced(CARRIER_OK, reason: "")
        } catch {
            return .announced(error.status, reason: error.description)
        }
    }
}
