import CarrierCore
import CarrierDHT
import Foundation
import Synchronization

/// The services this supernode offers, announced on the DHT as `ServiceRecord`s while their
/// plugins run. An offer is announced as a persistent peer record, so the node republishes it
/// before it expires; withdrawing announces it once more with `w` set and a greater `seq` (so
/// finders drop it at once, instead of when it expires two hours later) and stops republishing.
///
/// Order: `announce` and `withdraw` decide the record and its sequence number at once, in call
/// order, under a lock; only the network publication is asynchronous. A withdrawal stops the
/// republishing of its own record only (matched by `seq`), so an offer announced again meanwhile
/// (a plugin restarted by a reload) stays published.
public final class ServiceRegistry: Sendable {
    /// One offer, keyed by plugin and service type.
    struct Key: Hashable {
        let plugin: String
        let type: String
    }

    private struct State {
        var offers: [Key: ServiceRecord] = [:]
        /// The last sequence number used per service type (every new record goes above it).
        var lastSequence: [String: Int32] = [:]
    }

    private let identity: KeyPair
    private let dht: DHTNode
    /// Replaces `{host}` in endpoint templates (the address clients should use).
    private let publicHost: String
    private let state = Mutex(State())

    public init(identity: KeyPair, dht: DHTNode, publicHost: String) {
        self.identity = identity
        self.dht = dht
        self.publicHost = publicHost
    }

    /// The offers currently announced.
    public var announced: [ServiceRecord] {
        state.withLock { $0.offers.values.sorted { ($0.pluginId, $0.type) < ($1.pluginId, $1.type) } }
    }

    /// Announces (or re-announces with a new endpoint) `type` for `plugin`. Returns the task that
    /// publishes it, whose value is how many of the closest nodes accepted the record.
    @discardableResult
    public func announce(type: String, endpointTemplate: String, plugin: String, version: String, priceSummary: String?) -> Task<Int, Never> {
        let endpoint = endpointTemplate.replacingOccurrences(of: "{host}", with: publicHost)
            .replacingOccurrences(of: "{node_id}", with: identity.publicKey.base58)
        let record = state.withLock { state in
            let record = ServiceRecord(type: type, pluginId: plugin, version: version, priceSummary: priceSummary, withdrawn: false,
                                       node: identity.publicKey, endpoint: endpoint, sequenceNumber: Self.nextSequence(for: type, in: &state))
            state.offers[Key(plugin: plugin, type: type)] = record
            return record
        }
        return Task { await publish(record) }
    }

    /// Withdraws `type` for `plugin` now (nothing if it was not announced); returns the task
    /// that publishes the withdrawal, or nil.
    @discardableResult
    public func withdraw(type: String, plugin: String) -> Task<Void, Never>? {
        let record = state.withLock { state -> ServiceRecord? in
            guard var record = state.offers.removeValue(forKey: Key(plugin: plugin, type: type)) else { return nil }
            record.withdrawn = true
            record.sequenceNumber = Self.nextSequence(for: type, in: &state)
            return record
        }
        guard let record else { return nil }
        return Task {
            // Stored like an offer (so our own storage answers with it too), then left to expire.
            _ = await publish(record)
            try? dht.storage.forgetPersistentPeer(ServiceRecord.peerKey(for: type).publicKey,
                                                 fingerprint: ServiceRecord.fingerprint(of: identity.publicKey), sequenceNumber: record.sequenceNumber)
        }
    }

    /// Withdraws every offer of `plugin` and waits until the withdrawals are published.
    public func withdrawAll(plugin: String) async {
        let types = state.withLock { $0.offers.keys.filter { $0.plugin == plugin }.map(\.type) }
        for task in types.compactMap({ withdraw(type: $0, plugin: plugin) }) { await task.value }
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
        return accepted.values.filter { $0 }.count
    }

    /// A sequence number greater than any earlier record of ours: seconds since 2026-01-01, so a
    /// restarted supernode's records still replace the ones it announced before.
    private static func nextSequence(for type: String, in state: inout State) -> Int32 {
        let seconds = Int32(clamping: Int64(Date().timeIntervalSince1970) - 1_767_225_600)
        let next = max(seconds, (state.lastSequence[type] ?? 0) + 1)
        state.lastSequence[type] = next
        return next
    }
}
