import CarrierHTTP
import CarrierPluginSDK

/// Copies what the HTTP server refused (`HTTPServerCounters`) into the plugin's counters once a
/// second, so they show on the host's `/metrics` as `carrier_plugin_http_refused_*` and the like
/// (one host call per reason that changed, not one per refusal: a flood of them stays cheap).
struct HTTPRefusalMetrics: Sendable {
    let host: CarrierHostAPI
    let counters: HTTPServerCounters

    /// Reports until cancelled.
    func reportEverySecond() -> Task<Void, Never> {
        Task {
            var reported: [HTTPServerCounters.Refusal: Int] = [:]
            for refusal in HTTPServerCounters.Refusal.allCases { host.counterAdd(refusal.rawValue, 0) }
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(1))
                for (refusal, count) in counters.snapshot where count > reported[refusal, default: 0] {
                    host.counterAdd(refusal.rawValue, Double(count - reported[refusal, default: 0]))
                    reported[refusal] = count
                }
            }
        }
    }
}
