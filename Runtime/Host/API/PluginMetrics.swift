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

    /// A metric name has one type (or Prometheus refuses the whole scrape).
    private enum Kind: String { case counter, gauge }

    private struct State {
        var values: [Series: Double] = [:]
        var kinds: [String: Kind] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    /// Whether `name` may be a metric name: 1 to 64 of `[a-z0-9_]`, not starting with a digit.
    public static func isValidName(_ name: String) -> Bool {
        guard let first = name.utf8.first, !(0x30...0x39).contains(first), name.utf8.count <= 64 else { return false }
        return name.utf8.allSatisfy { (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) || $0 == 0x5F }
    }

    /// Adds to a counter; false if `name` is already a gauge.
    @discardableResult
    public func add(counter name: String, plugin: String, _ delta: Double) -> Bool {
        update(Series(name: "carrier_plugin_\(name)", plugin: plugin, meter: nil), as: .counter) { $0 += delta }
    }

    /// Sets a gauge; false if `name` is already a counter.
    @discardableResult
    public func set(gauge name: String, plugin: String, _ value: Double) -> Bool {
        update(Series(name: "carrier_plugin_\(name)", plugin: plugin, meter: nil), as: .gauge) { $0 = value }
    }

    /// Usage reported through billing, per plugin and meter.
    public func addUsage(plugin: String, meter: String, _ amount: Double) {
        _ = update(Series(name: "carrier_billing_usage_total", plugin: plugin, meter: meter), as: .counter) { $0 += amount }
    }

    /// The value of a plugin counter (tests and `carrier plugins list`).
    public func counter(_ name: String, plugin: String) -> Double? {
        state.withLock { $0.values[Series(name: "carrier_plugin_\(name)", plugin: plugin, meter: nil)] }
    }

    /// All series in the Prometheus text exposition format.
    public func prometheusText() -> String {
        let (values, kinds) = state.withLock { ($0.values, $0.kinds) }
        var lines: [String] = []
        var typed: Set<String> = []
        for (key, value) in values.sorted(by: { $0.key < $1.key }) {
            if typed.insert(key.name).inserted { lines.append("# TYPE \(key.name) \(kinds[key.name]?.rawValue ?? "untyped")") }
            let labels = key.meter.map { "plugin=\"\(key.plugin)\",meter=\"\($0)\"" } ?? "plugin=\"\(key.plugin)\""
            lines.append("\(key.name){\(labels)} \(value)")
        }
        return lines.joined(separator: "\n") + (lines.isEmpty ? "" : "\n")
    }

    private func update(_ series: Series, as kind: Kind, _ change: (inout Double) -> Void) -> Bool {
        state.withLock { state in
            guard state.kinds[series.name, default: kind] == kind else { return false }
            state.kinds[series.name] = kind
            change(&state.values[series, default: 0])
            return true
        }
    }
}
