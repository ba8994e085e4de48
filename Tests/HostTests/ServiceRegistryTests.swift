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

    @Test func aRecordCarriesItsPricesForProgramsAndDropsThemWhenTheyDoNotFit() async throws {
        let (registry, node) = try await registry()
        let prices = ServiceRecord.Prices(currency: "credit", meters: [
            "bytes_relayed": ServiceRecord.MeterPrice(freeUnits: 10_000_000_000, microPrice: 1, periodSeconds: 2_592_000),
            "connection_seconds": ServiceRecord.MeterPrice(freeUnits: 360_000, microPrice: 10, periodSeconds: 2_592_000)])
        _ = try registry.announce(type: "relay", endpointTemplate: "tcp://{host}:7", plugin: "p", version: "1", priceSummary: "summary",
                                  prices: prices, owner: UUID())
        let record = try #require(registry.announced.first)
        let read = ServiceRecord(record.peerInfo(host: node.identity), type: "relay")
        #expect(read?.prices == prices && read?.priceSummary == "summary", "\(String(describing: read))")

        let many = ServiceRecord.Prices(currency: "credit", meters: Dictionary(uniqueKeysWithValues: (0..<16).map { index in
            (String(repeating: "m", count: 60) + "\(index)", ServiceRecord.MeterPrice(freeUnits: 1, microPrice: 1, periodSeconds: 1))
        }))
        _ = try registry.announce(type: "wide", endpointTemplate: "tcp://{host}:8", plugin: "q", version: "1", priceSummary: nil,
                                  prices: many, owner: UUID())
        #expect(registry.announced.first { $0.type == "wide" }?.prices == nil, "the offer goes out without prices that do not fit")
        await node.stop()
    }

    @Test func aRecordWithMalformedPricesIsRefused() throws {
        let host = KeyPair.random()
        func record(_ extra: [(String, CBOR)]) -> ServiceRecord? {
            var writer = CBORWriter()
            let entries: [(String, CBOR)] = [("t", .text("relay")), ("p", .text("p")), ("v", .text("1"))] + extra
            writer.beginMap(count: entries.count)
            for (key, value) in entries {
                writer.textString(key)
                writer.item(value)
            }
            let peer = PeerInfo.create(owner: ServiceRecord.peerKey(for: "relay"), node: host, fingerprint: 1, endpoint: "tcp://h:1",
                                       extra: writer.bytes)
            return ServiceRecord(peer, type: "relay")
        }
        let good: CBOR = .map([CBOR.Entry("bytes", .array([.unsigned(1), .unsigned(2), .unsigned(3)]))])
        #expect(record([("m", good), ("c", .text("credit"))])?.prices?.meters["bytes"]?.microPrice == 2)
        #expect(record([])?.prices == nil, "an older supernode's record says nothing about prices")
        #expect(record([("m", good)]) == nil, "prices without a currency")
        #expect(record([("m", .map([CBOR.Entry("bytes", .array([.unsigned(1), .unsigned(2)]))])), ("c", .text("credit"))]) == nil)
        #expect(record([("m", .map([CBOR.Entry("bytes", .array([.unsigned(1), .unsigned(2), .unsigned(0)]))])), ("c", .text("credit"))]) == nil,
                "a period of 0")
        #expect(record([("m", .text("cheap")), ("c", .text("credit"))]) == nil)
    }
}
