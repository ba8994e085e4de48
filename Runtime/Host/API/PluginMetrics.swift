import CoreMetrics
import Prometheus
import Synchronization

/// The supernode's metrics, in one Prometheus registry (swift-prometheus) that the admin
/// endpoint's `/metrics` exports: the counters and gauges plugins set through the ABI
/// (`carrier_plugin_*`, through swift-metrics), billing usage, and the host's own series, which
/// `SupernodeMetrics` mirrors into it at each scrape. Every name is written out where it is used.
public final class PluginMetrics: Sendable {
    private struct Series: Hashable {
        let name: String
        let labels: [String]

        var pairs: [(String, String)] { stride(from: 0, to: labels.count, by: 2).map { (labels[$0], labels[$0 + 1]) } }

        init(_ name: String, _ labels: [(String, String)]) {
            self.name = name
            self.labels = labels.flatMap { [$0.0, $0.1] }
        }
    }

    /// A metric name has one type (or the registry, like Prometheus, refuses it).
    private enum Kind { case counter, gauge }

    private struct State {
        var kinds: [String: Kind] = [:]
        var counters: [Series: FloatingPointCounter] = [:]
        var gauges: [Series: CoreMetrics.Gauge] = [:]
        /// What each counter and gauge holds (swift-metrics handlers are write-only).
        var values: [Series: Double] = [:]
        /// The last value mirrored into each host counter.
        var mirrored: [Series: Int64] = [:]
        /// The label sets each host gauge family had at its last update.
        var gaugeFamilies: [String: Set<Series>] = [:]
    }

    private let registry = PrometheusCollectorRegistry()
    private let factory: PrometheusMetricsFactory
    private let state = Mutex(State())

    public init() {
        factory = PrometheusMetricsFactory(registry: registry)
    }

    /// Whether `name` may be a metric name: 1 to 64 of `[a-z0-9_]`, not starting with a digit.
    public static func isValidName(_ name: String) -> Bool {
        guard let first = name.utf8.first, !(0x30...0x39).contains(first), name.utf8.count <= 64 else { return false }
        return name.utf8.allSatisfy { (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) || $0 == 0x5F }
    }

    /// Adds `delta` (finite, ≥ 0) to a plugin's counter; false if it is not, or `name` is already a gauge.
    @discardableResult
    public func add(counter name: String, plugin: String, _ delta: Double) -> Bool {
        guard delta >= 0, delta.isFinite else { return false }
        return count(Series("carrier_plugin_\(name)", [("plugin", plugin)]), delta)
    }

    /// Sets a plugin's gauge (finite); false if it is not, or `name` is already a counter.
    @discardableResult
    public func set(gauge name: String, plugin: String, _ value: Double) -> Bool {
        guard value.isFinite else { return false }
        let series = Series("carrier_plugin_\(name)", [("plugin", plugin)])
        return state.withLock { state in
            guard state.kinds[series.name, default: .gauge] == .gauge else { return false }
            state.kinds[series.name] = .gauge
            gauge(series, in: &state).record(value)
            state.values[series] = value
            return true
        }
    }

    /// Usage reported through billing, per plugin and meter.
    public func addUsage(plugin: String, meter: String, _ amount: Double) {
        guard amount >= 0, amount.isFinite else { return }
        count(Series("carrier_billing_usage_total", [("plugin", plugin), ("meter", meter)]), amount)
    }

    /// The value of a plugin counter or gauge (tests and `carrier plugins list`).
    public func counter(_ name: String, plugin: String) -> Double? {
        state.withLock { $0.values[Series("carrier_plugin_\(name)", [("plugin", plugin)])] }
    }

    /// Sets a host counter (`carrier_dht_*`, `carrier_billing_*`) to `value`, read off its source:
    /// the counter goes up by the difference, or starts again from `value` if that went down.
    func mirror(counter name: String, labels: [(String, String)] = [], _ value: Int) {
        let series = Series(name, labels)
        state.withLock { state in
            state.kinds[name] = .counter
            let counter = registry.makeCounter(descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: ""), labels: labels)
            let value = Int64(max(0, value)), last = state.mirrored[series] ?? 0
            if value < last { counter.reset() }
            counter.increment(by: value < last ? value : value - last)
            state.mirrored[series] = value
        }
    }

    /// Sets a host gauge family (`carrier_plugins`, `carrier_dht_contacts`, ...) to `values` by
    /// label set; label sets it no longer has are removed.
    func mirror(gauge name: String, help: String = "", _ values: [([(String, String)], Double)]) {
        state.withLock { state in
            state.kinds[name] = .gauge
            let descriptor = MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
            var present: Set<Series> = []
            for (labels, value) in values {
                present.insert(Series(name, labels))
                registry.makeGauge(descriptor: descriptor, labels: labels).set(value)
            }
            for gone in state.gaugeFamilies[name, default: []].subtracting(present) {
                registry.unregisterGauge(registry.makeGauge(descriptor: descriptor, labels: gone.pairs))
            }
            state.gaugeFamilies[name] = present
        }
    }

    /// All series in the Prometheus text exposition format.
    public func prometheusText() -> String {
        registry.emitToString()
    }

    @discardableResult
    private func count(_ series: Series, _ amount: Double) -> Bool {
        state.withLock { state in
            guard state.kinds[series.name, default: .counter] == .counter else { return false }
            state.kinds[series.name] = .counter
            let counter = state.counters[series] ?? FloatingPointCounter(label: series.name, dimensions: series.pairs, factory: factory)
            state.counters[series] = counter
            counter.increment(by: amount)
            state.values[series, default: 0] += amount
            return true
        }
    }

    private func gauge(_ series: Series, in state: inout State) -> CoreMetrics.Gauge {
        if let gauge = state.gauges[series] { return gauge }
        let gauge = CoreMetrics.Gauge(label: series.name, dimensions: series.pairs, factory: factory)
        state.gauges[series] = gauge
        return gauge
    }
}
