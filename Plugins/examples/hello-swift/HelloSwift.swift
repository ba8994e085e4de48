import CarrierPluginABI
import CarrierPluginSDK

/// hello-swift: the Swift example plugin. On start it publishes its greeting as a signed DHT
/// value under the node's own key (so anyone can read it with `carrier dht get NODE-ID`), keeps it
/// fresh every `refresh_seconds`, and announces the service type "hello-swift" with the endpoint
/// `dht://NODE-ID`. It also counts the values and peer records other nodes store on this
/// supernode (`carrier_plugin_storage_events`). Health says whether the last publication reached
/// the network; a publication that fails (no node answered yet, say) is retried after 1, 2, 4...
/// seconds, up to `refresh_seconds`, with the same sequence number.
///
/// `@unchecked Sendable`: its state is only touched on the executor: its methods, the timer, and
/// each publication's `host.task`, which resumes there after its `await` (the gauge
/// `resumed_on_executor` shows it: 1 after every publication).
final class HelloSwift: CarrierPlugin, @unchecked Sendable {
    static let id = "org.carrier.examples.hello-swift"
    static let version = "1.0.0"
    static let summary = "Publishes a greeting as a signed DHT value under the node key"
    static let capabilities: PluginCapabilities = [.service]

    private let host: CarrierHostAPI
    private let greeting: String
    private let refreshSeconds: UInt64
    private var timer: UInt64?
    private var retryTimer: UInt64?
    private var retryDelay: UInt64 = 1
    private var sequence: Int32 = 0
    private var lastOutcome = "not published yet"
    private var published = false

    init(host: CarrierHostAPI, configJSON: String) throws {
        self.host = host
        guard let greeting = try? host.configString("greeting") ?? "hello" else { throw PluginError("config.greeting must be a string") }
        guard let refresh = try? host.configInt("refresh_seconds") ?? 600, refresh >= 1 else {
            throw PluginError("config.refresh_seconds must be an integer of at least 1")
        }
        self.greeting = greeting
        refreshSeconds = UInt64(refresh)
        try host.defineMeter("publications", unit: "value")
    }

    func start() throws {
        let nodeId = host.nodeId.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
        try host.announceService("hello-swift", endpoint: "dht://\(nodeId)")
        try host.subscribeEvents { [host] _ in host.counterAdd("storage_events") }
        timer = try host.startTimer(delay: 0, interval: refreshSeconds * 1000) { [weak self] in self?.publish() }
    }

    func stop() {
        if let timer { host.cancelTimer(timer) }
        if let retryTimer { host.cancelTimer(retryTimer) }
        try? host.withdrawService("hello-swift")
    }

    func health() -> (PluginHealth, String) {
        (published ? .ok : .degraded, lastOutcome)
    }

    /// Stores the greeting with the next sequence number (on the executor, from the timer).
    private func publish() {
        sequence += 1
        retryDelay = 1
        attempt(sequence)
    }

    /// One try at storing `sequence`; a failure schedules the next try (on the executor).
    private func attempt(_ sequence: Int32) {
        if let retryTimer { host.cancelTimer(retryTimer) }
        retryTimer = nil
        let host = self.host, data = Array(greeting.utf8)
        host.task { [self] in
            let outcome: String, ok: Bool
            do {
                // Billed to the node itself: the example has no clients of its own.
                guard try host.authorizeUsage(client: host.nodeId, meter: "publications", estimate: 1) == .allowed else {
                    throw PluginError("billing refused the publication")
                }
                let (id, accepted, asked) = try await host.storeSigned(sequenceNumber: sequence, data: data)
                host.counterAdd("publications")
                try? host.reportUsage(client: host.nodeId, meter: "publications", amount: 1)
                let hex = id.prefix(4).map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
                (outcome, ok) = ("seq \(sequence) stored as \(hex)... on \(accepted) of \(asked) nodes", true)
            } catch {
                (outcome, ok) = ("seq \(sequence) not stored: \(error)", false)
            }
            // Back on the executor after the await: the state is the plugin's own again.
            host.gaugeSet("resumed_on_executor", host.isOnExecutor ? 1 : 0)
            record(outcome, ok)
            if !ok && sequence == self.sequence { scheduleRetry(sequence) }
        }
    }

    /// Tries `sequence` again after the current delay, doubling it up to `refresh_seconds`.
    private func scheduleRetry(_ sequence: Int32) {
        let delay = retryDelay
        retryDelay = min(retryDelay * 2, refreshSeconds)
        retryTimer = try? host.startTimer(delay: delay * 1000, interval: 0) { [weak self] in
            self?.retryTimer = nil
            self?.attempt(sequence)
        }
    }

    private func record(_ outcome: String, _ ok: Bool) {
        lastOutcome = outcome
        published = ok
        host.log(ok ? .info : .warning, outcome)
    }
}

/// The one exported symbol.
@_cdecl("carrier_plugin_entry_v1")
public func carrierPluginEntry(_ api: UnsafePointer<carrier_host_api_v1>?) -> UnsafePointer<carrier_plugin_v1>? {
    PluginExport.entry(HelloSwift.self, api)
}
