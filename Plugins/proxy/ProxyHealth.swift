import CarrierPluginSDK
import Synchronization

/// Whether the proxy can serve the DHT: its supernode's routing-table counts, refreshed by
/// `refresh` (every poll round). A proxy whose node has no good contact still answers HTTP, but
/// says it is unhealthy (plugin health `failing`, `GET /v1/health` 503, `good: 0` on OpenDHT's
/// `/node/info`) so that clients switch to another proxy.
final class ProxyHealth: Sendable {
    private let host: CarrierHostAPI
    private let status = Mutex<DHTStatus?>(nil)

    init(host: CarrierHostAPI) { self.host = host }

    /// The last counts, nil before the first refresh.
    var latest: DHTStatus? { status.withLock { $0 } }

    /// Serving: the node has at least one good contact, or its counts are not known (before the
    /// first refresh, or from a host older than ABI 1.2), which is not evidence of isolation.
    var isHealthy: Bool { latest.map { $0.good > 0 } ?? true }

    /// One line for operators and clients.
    var detail: String {
        guard let latest else { return "DHT status not known yet" }
        return latest.good > 0 ? "\(latest.good) live DHT contacts"
            : "no live DHT contacts (\(latest.dubiousIPv4 + latest.dubiousIPv6) not answering): cut off from the network"
    }

    /// Asks the host for the counts; keeps the last ones if it cannot answer.
    @discardableResult
    func refresh() async -> DHTStatus? {
        guard let counts = try? await host.dhtStatus() else { return latest }
        status.withLock { $0 = counts }
        return counts
    }
}
