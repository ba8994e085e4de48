import CarrierCore
import CarrierDHT
@testable import CarrierHost
import Foundation
import TestSupport
import Testing

/// A supernode (host) and a regular node on loopback, joined.
struct HostNetwork {
    let host: DHTNode
    let client: DHTNode
    let environment: HostEnvironment

    static func start() async throws -> HostNetwork {
        let host = try await node(), client = try await node()
        #expect(await client.bootstrap([try #require(await host.nodeInfo)]) == 1)
        return HostNetwork(host: host, client: client, environment: try environment(of: host))
    }

    /// A started DHT node on loopback with its own data directory.
    static func node() async throws -> DHTNode {
        // A loopback address of its own: no other test's node can have held its port (LoopbackAddress).
        var configuration = DHTNode.Configuration(listen: Endpoint("\(LoopbackAddress.unique()):0")!,
                                                  dataDirectory: NSTemporaryDirectory() + "carrier-host-\(UUID().uuidString)")
        configuration.allowLocal = true
        configuration.requestTimeout = .milliseconds(500)
        let node = try DHTNode(identity: KeyPair.random(), configuration: configuration)
        try await node.start()
        return node
    }

    /// What a supernode built on `node` hands its plugins.
    static func environment(of node: DHTNode) throws -> HostEnvironment {
        HostEnvironment(identity: node.identity, dht: node,
                        services: ServiceRegistry(identity: node.identity, dht: node, publicHost: "127.0.0.1"),
                        metrics: PluginMetrics(), billing: try BillingAccounts(ledger: BillingLedger.open(dataDirectory: node.configuration.dataDirectory)),
                        dataDirectory: node.configuration.dataDirectory)
    }

    func stop() async {
        await environment.sockets.stop()
        await client.stop()
        await host.stop()
    }

    /// The proxy plugin's config for tests that do not test access: on loopback, any port, open to
    /// anonymous clients with rate limits out of the way (every test client is 127.0.0.1).
    static let openProxy = "host = \"127.0.0.1\"\nport = 0\nanonymous = true\nanonymousRate = 100000\naddressRate = 100000\n"

    /// A manifest for `library`, pinned to its current hash unless `pin` says otherwise.
    static func manifest(library: String, id: String = "org.carrier.examples.hello-c", pin: String?? = .none,
                          config: String = "greeting = \"hi\"", isolation: PluginManifest.Isolation = .inProcess) throws -> PluginManifest {
        let hash = pin ?? PluginLibrary.sha256(ofFile: library)
        let text = """
            id = "\(id)"
            version = "1.0.0"
            library = "\(library)"
            isolation = "\(isolation.rawValue)"
            \(hash.map { "sha256 = \"\($0)\"" } ?? "")
            [config]
            \(config)
            """
        return try PluginManifest.parse(text, file: "/test/\(id).toml")
    }
}
