import CarrierCore
import CarrierDHT
import CarrierHost
import CarrierPluginABI
import Foundation
import Testing

/// Who may announce and withdraw what in the service registry.
struct ServiceRegistryTests {
    private func registry() async throws -> (ServiceRegistry, DHTNode) {
        var configuration = DHTNode.Configuration(listen: Endpoint("127.0.0.1:0")!,
                                                  dataDirectory: NSTemporaryDirectory() + "carrier-registry-\(UUID().uuidString)")
        configuration.allowLocal = true
        let node = try DHTNode(identity: KeyPair.random(), configuration: configuration)
        try await node.start()
        return (ServiceRegistry(identity: node.identity, dht: node, publicHost: "127.0.0.1"), node)
    }

    @Test func onlyTheInstanceThatAnnouncedCanWithdrawAndATypeHasOnePlugin() async throws {
        let (registry, node) = try await registry()
        let first = UUID(), second = UUID()
        _ = try registry.announce(type: "echo", endpointTemplate: "tcp://{host}:7", plugin: "p", version: "1", priceSummary: nil, owner: first)
        #expect(registry.announced.map(\.endpoint) == ["tcp://127.0.0.1:7"])
        #expect(registry.withdraw(type: "echo", plugin: "p", owner: second) == false, "a stale instance cannot withdraw its successor's offer")
        #expect(registry.announced.count == 1)
        #expect(throws: ServiceRegistry.AnnounceError.self) {
            try registry.announce(type: "echo", endpointTemplate: "tcp://{host}:8", plugin: "q", version: "1", priceSummary: nil, owner: second)
        }
        #expect(throws: ServiceRegistry.AnnounceError.self) {
            try registry.announce(type: "big", endpointTemplate: "tcp://" + String(repeating: "h", count: 2000), plugin: "p",
                                  version: "1", priceSummary: nil, owner: first)
        }
        await registry.withdrawAll(plugin: "p", owner: first)
        #expect(registry.announced.isEmpty)
        await node.stop()
    }
}
