import CarrierDHT

/// `/metrics`: what the supernode reads off its parts at each scrape, mirrored into its metrics
/// registry (`PluginMetrics`), then the registry's Prometheus text: the DHT node's counters
/// (`carrier_dht_*`), its routing table sizes, the plugins' states and health, what the plugins
/// count (`carrier_plugin_*`, billing usage), and the billing ledger's totals and flushes
/// (`carrier_billing_*`), and the sockets the host counts the bytes of (`carrier_counted_*`). Every name is written out here, not derived from a property's name.
enum SupernodeMetrics {
    static func text(of supernode: Supernode) async -> String {
        let metrics = supernode.metrics, node = supernode.node
        let statistics = await node.statistics
        for (name, value) in dhtCounters(statistics) { metrics.mirror(counter: name, value) }
        for (code, count) in statistics.errorsSent { metrics.mirror(counter: "carrier_dht_errors_sent_total", labels: [("code", "\(code)")], count) }
        var contacts: [([(String, String)], Double)] = []
        for family in node.families {
            contacts.append(([("family", family == .ipv4 ? "ipv4" : "ipv6")], Double(await node.contacts(in: family).count)))
        }
        metrics.mirror(gauge: "carrier_dht_contacts", contacts)
        let states = await supernode.plugins.status.map(\.state)
        metrics.mirror(gauge: "carrier_plugins", PluginHost.Status.State.allCases.map { state in
            ([("state", state.rawValue)], Double(states.filter { $0 == state }.count))
        })
        metrics.mirror(gauge: "carrier_plugins_health", help: "The last periodic health check: 0 ok, 1 degraded, 2 failing.",
                       await supernode.plugins.healthReports.map { ([("plugin", $0.key)], Double($0.value.health.rawValue)) })
        let sockets = supernode.plugins.environment.sockets.totals
        metrics.mirror(gauge: "carrier_counted_sockets", help: "TCP sockets whose bytes the host counts now (ABI 1.6 count_tcp_socket).",
                       [([], Double(sockets.counting))])
        for (outcome, count) in [("counted", sockets.counted), ("refused", sockets.refused), ("ended", sockets.ended), ("lost", sockets.lost)] {
            metrics.mirror(counter: "carrier_counted_sockets_total", labels: [("outcome", outcome)], count)
        }
        metrics.mirror(counter: "carrier_counted_bytes_total", Int(clamping: sockets.bytes))
        let billing = supernode.plugins.environment.billing
        let flushes = billing.flushCounts
        metrics.mirror(counter: "carrier_billing_flushes_total", labels: [("outcome", "committed")], flushes.done)
        metrics.mirror(counter: "carrier_billing_flushes_total", labels: [("outcome", "failed")], flushes.failed)
        if let totals = try? billing.ledger.totals() {
            for meter in totals.usage {
                metrics.mirror(counter: "carrier_billing_charged_micro_total", labels: [("plugin", meter.plugin), ("meter", meter.meter)], Int(meter.charged))
            }
            // Credits less what operators took back: it can go down, so it is a gauge.
            metrics.mirror(gauge: "carrier_billing_credited_micro_total", [([], Double(totals.credited))])
        }
        return metrics.prometheusText()
    }

    /// The DHT node's counters, by the name each has on `/metrics`.
    static func dhtCounters(_ statistics: NodeStatistics) -> [(String, Int)] {
        [("carrier_dht_datagrams_received_total", statistics.datagramsReceived),
         ("carrier_dht_datagrams_sent_total", statistics.datagramsSent),
         ("carrier_dht_requests_answered_total", statistics.requestsAnswered),
         ("carrier_dht_throttled_total", statistics.throttled),
         ("carrier_dht_socket_buffer_drops_total", statistics.socketBufferDrops),
         ("carrier_dht_envelope_rejected_total", statistics.envelopeRejected),
         ("carrier_dht_malformed_messages_total", statistics.malformedMessages),
         ("carrier_dht_messages_with_ignored_fields_total", statistics.messagesWithIgnoredFields),
         ("carrier_dht_unmatched_responses_total", statistics.unmatchedResponses),
         ("carrier_dht_node_lists_discarded_total", statistics.nodeListsDiscarded),
         ("carrier_dht_requests_timed_out_total", statistics.requestsTimedOut),
         ("carrier_dht_reconnect_attempts_total", statistics.reconnectAttempts),
         ("carrier_dht_reconnections_total", statistics.reconnections),
         ("carrier_dht_retries_total", statistics.retries),
         ("carrier_dht_outbound_throttled_total", statistics.outboundThrottled),
         ("carrier_dht_outbound_paced_total", statistics.outboundPaced)]
    }
}
