import Synchronization

/// Counters and gauges that plugins set through the ABI, and billing usage, rendered in the
/// Prometheus text format for the admin endpoint's `/metrics`.
public final class PluginMetrics: Sendable {
    private struct Series: Hashable, Comparable {
        let name: String
        let plugin: String
        let meter: String?

        static func < (a: Series, b: Series) -> Bool { (a.name, a.plugin, a.meter ?? "") < (b.name, b.plugin, b.meter ?? "") }
    }

    private struct State {
        var counters: [Series: Double] = [:]
        var gauges: [Series: Double] = [:]
        var counterNames: Set<String> = []
        var gaugeNames: Set<String> = []
    }

    private let state = Mutex(State())

    public init() {}

    /// Whether `name` may be a metric name: 1 to 64 of `[a-z0-9_]`, not starting with a digit.
    public static func isValidName(_ name: String) -> Bool {
        guard let first = name.utf8.first, !(0x30...0x39).contains(first), name.utf8.count <= 64 else { return false }
        return name.utf8.allSatisfy { (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) || $0 == 0x5F }
    }

    /// Adds to a counter; false if `name` is already a gauge (one name, one type, or Prometheus
    /// refuses the whole scrape).
    @discardableResult
    public func add(counter name: String, plugin: String, _ delta: Double) -> Bool {
        let metric = "carrier_plugin_\(name)"
        return state.withLock { state in
            guard !state.gaugeNames.contains(metric) else { return false }
            state.counterNames.insert(metric)
            state.counters[Series(name: metric, plugin: plugin, meter: nil), default: 0] += delta
            return true
        }
    }

    /// Sets a gauge; false if `name` is already a counter.
    @discardableResult
    public func set(gauge name: String, plugin: String, _ value: Double) -> Bool {
        let metric = "carrier_plugin_\(name)"
        return state.withLock { state in
            guard !state.counterNames.contains(metric) else { return false }
            state.gaugeNames.insert(metric)
            state.gauges[Series(name: metric, plugin: plugin, meter: nil)] = value
            return true
        }
    }

    /// Usage reported through billing, per plugin and meter.
    public func addUsage(plugin: String, meter: String, _ amount: Double) {
        state.withLock { $0.counters[Series(name: "carrier_billing_usage_total", plugin: plugin, meter: meter), default: 0] += amount }
    }

    /// The value of a plugin counter (tests and `carrier plugins list`).
    public func counter(_ name: String, plugin: String) -> Double? {
        state.withLock { $0.counters[Series(name: "carrier_plugin_\(name)", plugin: plugin, meter: nil)] }
    }

    /// All series in the Prometheus text exposition format.
    public func prometheusText() -> String {
        let (counters, gauges) = state.withLock { ($0.counters, $0.gauges) }
        var lines: [String] = []
        for (kind, series) in [("counter", counters), ("gauge", gauges)] {
            var typed: Set<String> = []
            for (key, value) in series.sorted(by: { $0.key < $1.key }) {
                if typed.insert(key.name).inserted { lines.append("# TYPE \(key.name) \(kind)") }
                let labels = key.meter.map { "plugin=\"\(key.plugin)\",meter=\"\($0)\"" } ?? "plugin=\"\(key.plugin)\""
                lines.append("\(key.name){\(labels)} \(value)")
            }
        }
        return lines.joined(separator: "\n") + (lines.isEmpty ? "" : "\n")
    }
}
