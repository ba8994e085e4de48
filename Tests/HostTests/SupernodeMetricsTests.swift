import CarrierHost
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing

/// `/metrics` from a running supernode: the series and names it had before it was served from a
/// Prometheus registry, every sample under its TYPE, and plugin values that the registry could not
/// take (a negative counter step, a name of another type) refused instead of trapping.
struct SupernodeMetricsTests {
    @Test func theSupernodesSeriesAreServedUnderTheirNames() async throws {
        let directory = NSTemporaryDirectory() + "carrier-metrics-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try "data_dir = \"data\"\nlisten = [\"127.0.0.1:0\"]\nallow_local = true\nadmin = \"127.0.0.1:0\"\n"
            .write(toFile: "\(directory)/node.toml", atomically: true, encoding: .utf8)
        let supernode = try await Supernode.start(manifestsDirectory: directory)
        let base = "http://\(try #require(await supernode.admin).localEndpoint)"

        #expect(supernode.metrics.add(counter: "connections", plugin: "org.example", 2))
        #expect(supernode.metrics.add(counter: "connections", plugin: "org.example", -1) == false, "a counter never goes down")
        #expect(supernode.metrics.add(counter: "connections", plugin: "org.example", .infinity) == false)
        #expect(supernode.metrics.set(gauge: "connections", plugin: "org.example", 1) == false, "a counter's name is not a gauge's")
        #expect(supernode.metrics.set(gauge: "queue", plugin: "org.example", 7))
        supernode.metrics.addUsage(plugin: "org.example", meter: "writes", 3)

        let first = try await Self.get("\(base)/metrics")
        for name in ["datagrams_received", "datagrams_sent", "requests_answered", "throttled", "socket_buffer_drops", "envelope_rejected",
                     "malformed_messages", "messages_with_ignored_fields", "unmatched_responses", "node_lists_discarded",
                     "requests_timed_out", "reconnect_attempts", "reconnections", "retries",
                     "outbound_throttled", "outbound_paced"] {
            #expect(first.contains("# TYPE carrier_dht_\(name)_total counter\ncarrier_dht_\(name)_total "), "\(name)")
        }
        for line in ["carrier_plugins{state=\"running\"} 0.0", "carrier_plugins{state=\"failed\"} 0.0",
                     "carrier_dht_contacts{family=\"ipv4\"} 0.0", "carrier_billing_flushes_total{outcome=\"failed\"} 0",
                     "carrier_plugin_connections{plugin=\"org.example\"} 2.0", "carrier_plugin_queue{plugin=\"org.example\"} 7.0",
                     "carrier_billing_usage_total{plugin=\"org.example\",meter=\"writes\"} 3.0", "carrier_billing_credited_micro_total 0.0",
                     "carrier_counted_sockets 0.0", "carrier_counted_sockets_total{outcome=\"lost\"} 0", "carrier_counted_bytes_total 0",
                     "# TYPE carrier_plugin_connections counter", "# TYPE carrier_plugin_queue gauge"] {
            #expect(first.contains(line + "\n"), "\(line)")
        }
        // Every sample is under a TYPE line of its name.
        let typed = Set(first.split(separator: "\n").filter { $0.hasPrefix("# TYPE ") }.map { $0.split(separator: " ")[2] })
        for sample in first.split(separator: "\n") where !sample.hasPrefix("#") {
            let name = sample.prefix { $0 != "{" && $0 != " " }
            #expect(typed.contains(name), "\(sample)")
        }
        // A mirrored counter follows its source between scrapes.
        let sent = try #require(Self.value("carrier_dht_datagrams_sent_total", in: first))
        _ = try await Self.get("\(base)/status")
        let second = try await Self.get("\(base)/metrics")
        #expect(try #require(Self.value("carrier_dht_datagrams_sent_total", in: second)) >= sent)
        #expect(second.contains("carrier_plugin_connections{plugin=\"org.example\"} 2.0\n"), "counted once, not again at each scrape")
        await supernode.stop()
    }

    private static func get(_ url: String) async throws -> String {
        String(decoding: try await URLSession.shared.data(from: URL(string: url)!).0, as: UTF8.self)
    }

    private static func value(_ name: String, in text: String) -> Double? {
        text.split(separator: "\n").first { $0.hasPrefix(name + " ") }.flatMap { Double($0.split(separator: " ")[1]) }
    }
}
