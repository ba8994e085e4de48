import CarrierDHT
@testable import CarrierHost
import TestSupport
import Testing

/// Two supernodes with the proxy (one in process, one in a runner, so nothing is shared but the
/// DHT) and a regular node, all on loopback; `proxies` are their HOST:PORT.
struct TwoProxies {
    let nodes: [DHTNode]
    let hosts: [PluginHost]
    let proxies: [String]

    /// Starts them with the proxy's `config` (plus `pollSeconds = 1`).
    static func start(config: String) async throws -> TwoProxies {
        let nodes = [try await HostNetwork.node(), try await HostNetwork.node(), try await HostNetwork.node()]
        let first = try #require(await nodes[0].nodeInfo)
        for node in nodes.dropFirst() { #expect(await node.bootstrap([first]) == 1) }
        var hosts: [PluginHost] = [], proxies: [String] = []
        for (node, isolation) in zip(nodes.prefix(2), [PluginManifest.Isolation.inProcess, .process]) {
            let environment = try HostNetwork.environment(of: node)
            let host = PluginHost(environment: environment, runnerSettings: RunnerSettings(executable: CarrierBinary.path))
            await host.apply([try HostNetwork.manifest(library: try CPlugins.proxy(), id: "org.carrier.proxy",
                                                       config: config + "\npollSeconds = 1", isolation: isolation)])
            let endpoint = try #require(environment.services.announced.first { $0.type == "proxy" }?.endpoint)
            hosts.append(host)
            proxies.append(String(endpoint.dropFirst("http://".count)))
        }
        return TwoProxies(nodes: nodes, hosts: hosts, proxies: proxies)
    }

    func stop() async {
        for host in hosts { await host.stopAll() }
        for node in nodes { await node.stop() }
    }
}
