import CarrierCore
import Foundation

/// Periodic upkeep (every 10 s): routing-table liveness and refresh, storage expiry, republishing,
/// and saving the routing tables; and the node's two clocks.
extension DHTNode {
    func cachePath(_ family: AddressFamily) -> String {
        configuration.dataDirectory + (family == .ipv4 ? "/dht4.cache" : "/dht6.cache")
    }

    func saveRoutingTables() {
        for (family, table) in tables {
            do {
                try RoutingTableCache.save(table, to: cachePath(family), now: monotonic, wallClock: wallClock)
            } catch {
                logger.warning("cannot save the routing table", metadata: ["path": "\(cachePath(family))", "error": "\(error)"])
            }
        }
    }

    /// Pings questionable entries, refreshes stale buckets, purges expired storage, republishes our
    /// own items, and saves the routing tables.
    func maintain() async {
        saveRoutingTables()
        await republish()
        for family in families {
            guard let table = tables[family] else { continue }
            for entry in table.entriesNeedingPing(now: monotonic).prefix(8) { pingContact(entry.node) }
            for target in table.refreshTargets(now: monotonic, interval: 15 * 60_000).prefix(1) {
                _ = await lookup(target, in: family) { want in .findNodeRequest(FindNodeRequest(target: target, want: want)) } onAnswer: { _, _ in false }
            }
        }
        if storage.store.claimPurge(now: wallClock) {
            _ = try? await storage.purgeExpired(now: wallClock)
        }
    }

    /// Re-announces our own values and peer records last announced more than 110 minutes ago.
    private func republish() async {
        let age: Int64 = 110 * 60_000
        for value in (try? storage.valuesToRepublish(now: wallClock, olderThan: age)) ?? [] {
            _ = await writeEverywhere(to: value.id) { token in .storeValueRequest(StoreValueRequest(token: token, value: value)) }
            try? await storage.markValueAnnounced(value.id, now: wallClock)
        }
        for peer in (try? storage.peersToRepublish(now: wallClock, olderThan: age)) ?? [] {
            _ = await writeEverywhere(to: peer.peerId) { token in .announcePeerRequest(AnnouncePeerRequest(token: token, peer: peer)) }
            try? await storage.markPeerAnnounced(peer.peerId, fingerprint: peer.fingerprint, now: wallClock)
        }
    }

    /// Milliseconds since the node was created (routing-table and token clock).
    var monotonic: Int64 {
        let elapsed = ContinuousClock.now - started
        return elapsed.milliseconds
    }

    /// Milliseconds since 1970 (storage clock: it must survive a restart).
    nonisolated var wallClock: Int64 { Int64(Date().timeIntervalSince1970 * 1000) }
}
