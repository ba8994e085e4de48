import CarrierCore
import CarrierDHT
import CarrierPluginABI
import Foundation
import Logging
import Synchronization

/// The services this supernode offers, announced on the DHT as `ServiceRecord`s while their
/// plugins run. An offer is announced as a persistent peer record, so the node republishes it
/// before it expires; withdrawing announces it once more with `w` set and a greater `seq` (so
/// finders drop it at once, instead of when it expires two hours later) and stops republishing.
///
/// Order: `announce` and `withdraw` decide the record and its sequence number at once, in call
/// order, under a lock; only the network publication is asynchronous. A withdrawal stops the
/// republishing of its own record only (matched by `seq`), so an offer announced again meanwhile
/// (a plugin restarted by a reload) stays published. Each offer belongs to the plugin instance
/// (`owner`) that made it: a stale instance finishing late cannot withdraw its successor's.
/// One supernode offers a service type through one plugin (there is one record per type and node).
public final class ServiceRegistry: Sendable {
    /// One offer, keyed by plugin and service type.
    struct Key: Hashable {
        let plugin: String
        let type: String
    }

    private struct Offer {
        var record: ServiceRecord
        let owner: UUID
    }

    private struct State {
        var offers: [Key: Offer] = [:]
        /// The last sequence number used per service type (every new record goes above it).
        var lastSequence: [String: Int32] = [:]
        /// Withdrawals still being published, per owner (`withdrawAll` waits for them).
        var withdrawing: [UUID: [Task<Void, Never>]] = [:]
    }

    /// Why an offer cannot be announced.
    public struct AnnounceError: Error, CustomStringConvertible {
        public let description: String
        /// The ABI status a plugin gets for it.
        public let status: carrier_status
    }

    private let identity: KeyPair
    private let dht: DHTNode
    /// Replaces `{host}` in endpoint templates (the address clients should use).
    private let publicHost: String
    private let state = Mutex(State())
    private let logger = Logger(label: "carrier.services")

    public init(identity: KeyPair, dht: DHTNode, publicHost: String) {
        self.identity = identity
        self.dht = dht
        self.publicHost = publicHost
    }

    /// The offers currently announced.
    public var announced: [ServiceRecord] {
        state.withLock { $0.offers.values.map(\.record).sorted { ($0.pluginId, $0.type) < ($1.pluginId, $1.type) } }
    }

    /// Announces (or re-announces with a new endpoint) `type` for `plugin`, on behalf of the
    /// instance `owner`. Throws if another plugin offers the type here, or the record would not
    /// be valid (too large, say). Returns the task that publishes it, whose value is how many of
    /// the closest nodes accepted the record.
    @discardableResult
    public func announce(type: String, endpointTemplate: String, plugin: String, version: String, priceSummary: String?,
                         prices: ServiceRecord.Prices? = nil, owner: UUID) throws(AnnounceError) -> Task<Int, Never> {
        let endpoint = endpointTemplate.replacingOccurrences(of: "{host}", with: publicHost)
            .replacingOccurrences(of: "{node_id}", with: identity.publicKey.base58)
        let record = try state.withLock { (state) throws(AnnounceError) -> ServiceRecord in
            if let other = state.offers.first(where: { $0.key.type == type && $0.key.plugin != plugin }) {
                throw AnnounceError(description: "\(other.key.plugin) already offers \"\(type)\" on this supernode", status: CARRIER_ERR_REFUSED)
            }
            var record = ServiceRecord(type: type, pluginId: plugin, version: version, priceSummary: priceSummary, prices: prices,
                                       withdrawn: false, node: identity.publicKey, endpoint: endpoint, sequenceNumber: 0)
            if record.prices != nil, (try? record.peerInfo(host: identity).validate()) == nil {
                // Many long meter names: the offer still goes out, with the summary alone.
                record.prices = nil
                logger.warning("the prices do not fit in the service record; announcing it with the price summary alone",
                               metadata: ["type": "\(type)", "plugin": "\(plugin)"])
            }
            do {
                try record.peerInfo(host: identity).validate()
            } catch {
                throw AnnounceError(description: "the service record would be invalid: \(error)", status: CARRIER_ERR_INVALID_ARGUMENT)
            }
            record.sequenceNumber = Self.nextSequence(for: type, in: &state)
            state.offers[Key(plugin: plugin, type: type)] = Offer(record: record, owner: owner)
            return record
        }
        return Task { await publish(record) }
    }

    /// Withdraws `type` for `plugin` if `owner` announced it; false if there was no such offer.
    @discardableResult
    public func withdraw(type: String, plugin: String, owner: UUID) -> Bool {
        let key = Key(plugin: plugin, type: type)
        return state.withLock { state in
            guard var record = state.offers[key]?.record, state.offers[key]?.owner == owner else { return false }
            state.offers[key] = nil
            record.withdrawn = true
            record.sequenceNumber = Self.nextSequence(for: type, in: &state)
            let withdrawn = record
            state.withdrawing[owner, default: []].append(Task {
                // Stored like an offer (so our own storage answers with it too), then left to expire.
                _ = await publish(withdrawn)
                try? await dht.storage.forgetPersistentPeer(ServiceRecord.peerKey(for: type).publicKey,
                                                     fingerprint: ServiceRecord.fingerprint(of: identity.publicKey),
                                                     sequenceNumber: withdrawn.sequenceNumber)
            })
            return true
        }
    }

    /// Withdraws every offer `owner` made for `plugin`, and waits until all its withdrawals (its
    /// own earlier ones included) are published.
    public func withdrawAll(plugin: String, owner: UUID) async {
        let types = state.withLock { $0.offers.filter { $0.key.plugin == plugin && $0.value.owner == owner }.map(\.key.type) }
        for type in types { withdraw(type: type, plugin: plugin, owner: owner) }
        let tasks = state.withLock { $0.withdrawing.removeValue(forKey: owner) ?? [] }
        for task in tasks { await task.value }
    }

    /// The valid offers of `type` on the network (withdrawn ones dropped), and how many records
    /// were dropped for failing verification.
    public static func find(type: String, through dht: DHTNode, count: Int = 8) async -> (offers: [ServiceRecord], rejected: Int) {
        let peers = await dht.findPeers(ServiceRecord.peerKey(for: type).publicKey, count: count)
        var offers: [ServiceRecord] = [], rejected = 0
        for peer in peers {
            guard let record = ServiceRecord(peer, type: type) else {
                rejected += 1
                continue
            }
            if !record.withdrawn { offers.append(record) }
        }
        return (offers, rejected)
    }

    private func publish(_ record: ServiceRecord) async -> Int {
        let accepted = (try? await dht.announcePeer(record.peerInfo(host: identity), persistent: true)) ?? [:]
        let count = accepted.values.filter { $0 }.count
        if count == 0 {
            // An offer is tried again with the node's republishing; a withdrawal is not.
            logger.warning("no node accepted the service record (no contacts yet?)",
                           metadata: ["type": "\(record.type)", "withdrawn": "\(record.withdrawn)"])
        }
        return count
    }

    /// A sequence number greater than any earlier record of ours: seconds since 2026-01-01, so a
    /// restarted supernode's records still replace the ones it announced before.
    private static func nextSequence(for type: String, in state: inout State) -> Int32 {
        let seconds = Int32(clamping: Int64(Date().timeIntervalSince1970) - Money.epoch)
        let next = max(seconds, (state.lastSequence[type] ?? 0) + 1)
        state.lastSequence[type] = next
        return next
    }
}
