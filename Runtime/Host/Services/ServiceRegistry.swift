import CarrierCore
import CarrierDHT
import Foundation

/// The services this supernode offers, announced on the DHT as `ServiceRecord`s while their
/// plugins run. An offer is announced as a persistent peer record, so the node republishes it
/// before it expires; withdrawing announces it once more with `w` set and a greater `seq` (so
/// finders drop it at once, instead of when it expires two hours later) and stops republishing.
public actor ServiceRegistry {
    /// One offer, keyed by plugin and service type.
    struct Key: Hashable {
        let plugin: String
        let type: String
    }

    private let identity: KeyPair
    private let dht: DHTNode
    /// Replaces `{host}` in endpoint templates (the address clients should use).
    private let publicHost: String
    private var offers: [Key: ServiceRecord] = [:]
    /// The last sequence number used per service type (withdrawals must go above it).
    private var lastSequence: [String: Int32] = [:]

    public init(identity: KeyPair, dht: DHTNode, publicHost: String) {
        self.identity = identity
        self.dht = dht
        self.publicHost = publicHost
    }

    /// The offers currently announced.
    public var announced: [ServiceRecord] { offers.values.sorted { ($0.pluginId, $0.type) < ($1.pluginId, $1.type) } }

    /// Announces (or re-announces with a new endpoint) `type` for `plugin`; returns how many of
    /// the closest nodes accepted the record.
    @discardableResult
    public func announce(type: String, endpointTemplate: String, plugin: String, version: String, priceSummary: String?) async -> Int {
        let endpoint = endpointTemplate.replacingOccurrences(of: "{host}", with: publicHost)
            .replacingOccurrences(of: "{node_id}", with: identity.publicKey.base58)
        let key = Key(plugin: plugin, type: type)
        let record = ServiceRecord(type: type, pluginId: plugin, version: version, priceSummary: priceSummary, withdrawn: false,
                                   node: identity.publicKey, endpoint: endpoint, sequenceNumber: nextSequence(for: type))
        offers[key] = record
        return await publish(record, persistent: true)
    }

    /// Withdraws `type` for `plugin` (no-op if it was not announced).
    public func withdraw(type: String, plugin: String) async {
        guard var record = offers.removeValue(forKey: Key(plugin: plugin, type: type)) else { return }
        record.withdrawn = true
        record.sequenceNumber = nextSequence(for: type)
        // Stored like an offer (so our own storage answers with it too), then left to expire.
        await publish(record, persistent: true)
        try? dht.storage.forgetPersistentPeer(ServiceRecord.peerKey(for: type).publicKey, fingerprint: ServiceRecord.fingerprint(of: identity.publicKey))
    }

    /// Withdraws every offer of `plugin`.
    public func withdrawAll(plugin: String) async {
        for key in offers.keys where key.plugin == plugin { await withdraw(type: key.type, plugin: plugin) }
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

    @discardableResult
    private func publish(_ record: ServiceRecord, persistent: Bool) async -> Int {
        let accepted = (try? await dht.announcePeer(record.peerInfo(host: identity), persistent: persistent)) ?? [:]
        return accepted.values.filter { $0 }.count
    }

    /// A sequence number greater than any earlier record of ours: seconds since 2026-01-01, so a
    /// restarted supernode's records still replace the ones it announced before.
    private func nextSequence(for type: String) -> Int32 {
        let seconds = Int32(clamping: Int64(Date().timeIntervalSince1970) - 1_767_225_600)
        let next = max(seconds, (lastSequence[type] ?? 0) + 1)
        lastSequence[type] = next
        return next
    }
}
