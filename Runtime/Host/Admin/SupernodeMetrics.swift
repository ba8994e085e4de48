import CarrierDHT

/// The Prometheus text of `/metrics`: the DHT node's counters (`carrier_dht_*`), its routing table
/// sizes, the plugins' states, what the plugins count (`carrier_plugin_*`, billing usage), and the
/// billing ledger's totals and flushes (`carrier_billing_*`).
enum SupernodeMetrics {
    static func text(of supernode: Supernode) async -> String {
        let node = supernode.node
        let statistics = await node.statistics
        var lines: [String] = []
        for child in Mirror(reflecting: statistics).children {
            guard let label = child.label, let value = child.value as? Int else { continue }
            let name = "carrier_dht_\(snakeCase(label))_total"
            lines += ["# TYPE \(name) counter", "\(name) \(value)"]
        }
        lines.append("# TYPE carrier_dht_errors_sent_total counter")
        for (code, count) in statistics.errorsSent.sorted(by: { $0.key < $1.key }) {
            lines.append("carrier_dht_errors_sent_total{code=\"\(code)\"} \(count)")
        }
        lines.append("# TYPE carrier_dht_contacts gauge")
        for family in node.families {
            lines.append("carrier_dht_contacts{family=\"\(family == .ipv4 ? "ipv4" : "ipv6")\"} \(await node.contacts(in: family).count)")
        }
        lines.append("# TYPE carrier_plugins gauge")
        let states = await supernode.plugins.status.map(\.state)
        for state in [PluginHost.Status.State.running, .restarting, .failed, .disabled] {
            lines.append("carrier_plugins{state=\"\(state.rawValue)\"} \(states.filter { $0 == state }.count)")
        }
        lines += ["# HELP carrier_plugins_health The last periodic health check: 0 ok, 1 degraded, 2 failing.", "# TYPE carrier_plugins_health gauge"]
        for (plugin, report) in await supernode.plugins.healthReports.sorted(by: { $0.key < $1.key }) {
            lines.append("carrier_plugins_health{plugin=\"\(plugin)\"} \(report.health.rawValue)")
        }
        let billing = supernode.plugins.environment.billing
        let flushes = billing.flushCounts
        lines += ["# TYPE carrier_billing_flushes_total counter", "carrier_billing_flushes_total{outcome=\"committed\"} \(flushes.done)",
                  "carrier_billing_flushes_total{outcome=\"failed\"} \(flushes.failed)"]
        if let totals = try? billing.ledger.totals() {
            lines.append("# TYPE carrier_billing_charged_micro_total counter")
            for meter in totals.usage {
                lines.append("carrier_billing_charged_micro_total{plugin=\"\(meter.plugin)\",meter=\"\(meter.meter)\"} \(meter.charged)")
            }
            lines += ["# TYPE carrier_billing_credited_micro_total counter", "carrier_billing_credited_micro_total \(totals.credited)"]
        }
        return lines.joined(separator: "\n") + "\n" + supernode.metrics.prometheusText()
    }

    /// `envelopeRejected` → `envelope_rejected`.
    static func snakeCase(_ name: String) -> String {
        name.reduce(into: "") { result, character in
            if character.isUppercase { result += "_" + character.lowercased() } else { result.append(character) }
        }
    }
}
