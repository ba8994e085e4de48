import CarrierPluginABI
import Logging

/// Runs the plugins of a manifest set: loads and starts the enabled ones in dependency order,
/// keeps going when one fails (its error is kept for `status`), and on `reload` stops what was
/// disabled, removed or changed, and starts what is new, without touching the rest. A changed
/// plugin is stopped only once its new library passed a check (else the old instance runs on), and
/// its previous manifest is started again if the new one cannot run. A plugin with
/// `isolation = "process"` runs in a plugin runner, supervised by an `IsolatedPlugin`.
///
/// `apply` and `stopAll` must not be called from inside a call into a plugin (a plugin's
/// lifecycle function or host-API callback): they wait for plugin calls to finish.
public actor PluginHost {
    /// Where one plugin stands, for operators (`carrier plugins list`, `/plugins`).
    public struct Status: Sendable, Equatable {
        /// `restarting`: a process-isolated plugin whose runner was lost and is being started again.
        /// `stopping`: being stopped, destroyed and its offers withdrawn.
        public enum State: String, Sendable, CaseIterable { case running, restarting, stopping, failed, disabled }
        public let id: String
        public let manifest: String
        public let state: State
        public let isolation: PluginManifest.Isolation
        /// The library's own version, once loaded.
        public let version: String?
        /// Why it is not running, when it failed; while it runs, why its last reload was refused or
        /// failed (it runs its previous manifest); for a process-isolated plugin that is restarting,
        /// also how its last runner was lost.
        public let error: String?
        /// How many times its plugin runner was lost (process isolation only).
        public var runnerLosses: Int = 0
    }

    public nonisolated let environment: HostEnvironment
    public nonisolated let runnerSettings: RunnerSettings
    private var running: [String: any HostedPlugin] = [:]
    private var statuses: [String: Status] = [:]
    /// Start order of the running plugins (they stop in reverse).
    private var order: [String] = []
    /// The last `apply` or `stopAll` queued: each waits for the one before (the actor is
    /// re-entrant across its awaits, and two reloads at once must not start a plugin twice).
    private var tail: Task<Void, Never>?
    /// Set by `stopAll`: later applies do nothing.
    private var stopped = false
    /// Each running plugin's last health check.
    public private(set) var healthReports: [String: HealthReport] = [:]
    private var healthChecks: Task<Void, Never>?

    /// What a periodic health check found.
    public struct HealthReport: Sendable, Equatable {
        public let health: carrier_health
        public let detail: String
    }
    private let logger = Logger(label: "carrier.host")

    public init(environment: HostEnvironment, runnerSettings: RunnerSettings = RunnerSettings()) {
        self.environment = environment
        self.runnerSettings = runnerSettings
    }

    /// Every plugin's status, by id (a process-isolated plugin's as its supervisor sees it now).
    public var status: [Status] {
        statuses.values.sorted { $0.id < $1.id }.map { status in
            guard let isolated = running[status.id] as? IsolatedPlugin else { return status }
            // How the last runner was lost is an error only until a runner serves again.
            let condition = isolated.condition
            let error = [status.error, condition.running ? nil : condition.lastLoss].compactMap { $0 }.joined(separator: "; ")
            var live = Status(id: status.id, manifest: status.manifest, state: condition.running ? .running : .restarting,
                              isolation: status.isolation, version: condition.version, error: error.isEmpty ? nil : error)
            live.runnerLosses = condition.losses
            return live
        }
    }

    /// The running plugin `id`.
    public func instance(_ id: String) -> (any HostedPlugin)? { running[id] }

    /// Where settlement batches go: the first running plugin (in start order) with the settlement
    /// capability, or the built-in prepaid-credit backend when none runs; nil while that is not
    /// known (a process-isolated plugin whose runner has not loaded its library yet).
    public var settlementBackend: (any SettlementBackend)? {
        let plugins = order.compactMap { running[$0] }
        if let backend = plugins.first(where: \.isSettlementBackend) { return PluginSettlementBackend(plugin: backend) }
        guard !plugins.contains(where: { ($0 as? IsolatedPlugin)?.condition.version == nil && $0 is IsolatedPlugin }) else { return nil }
        return PrepaidCreditBackend()
    }

    /// Brings the running plugins in line with `manifests`: stops those that are gone, disabled or
    /// changed (in reverse start order), then starts the enabled ones not running (in start order).
    /// A changed plugin whose new library fails its check (`checkLibrary`) is not stopped: it runs
    /// on, and its status says the reload was refused. One whose new manifest passes the check but
    /// does not start has its previous manifest started again.
    /// Each of `rejected` (manifests that cannot be used) is listed as failed with its error, under
    /// its id (or its file, when a usable manifest has that id). Calls run one after another, in the
    /// order they were made.
    public func apply(_ manifests: [PluginManifest], rejected: [RejectedManifest] = []) async {
        await serially { await $0.applyNow(manifests, rejected: rejected) }
    }

    /// Stops every plugin, in reverse start order; the host applies no manifests afterwards.
    public func stopAll() async {
        healthChecks?.cancel()
        await serially { host in
            host.stopped = true
            for id in host.order.reversed() { await host.stop(id) }
        }
    }

    /// Asks every running plugin for its health every `interval` (the header's "called
    /// periodically"), keeps the answers for `/metrics`, and logs changes. A plugin whose `health`
    /// overruns its time limit is reported failing; one in a runner has its runner killed and
    /// restarted, so a plugin stuck while idle is found, not only one stuck in a lifecycle call.
    public func startHealthChecks(every interval: Duration) {
        healthChecks?.cancel()
        healthChecks = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                guard !Task.isCancelled, let self else { return }
                await self.checkHealth()
            }
        }
    }

    private func checkHealth() async {
        for (id, plugin) in running {
            let report: HealthReport
            do {
                let (health, detail) = try await plugin.health()
                report = HealthReport(health: health, detail: detail)
            } catch {
                report = HealthReport(health: CARRIER_HEALTH_FAILING, detail: "\(error)")
            }
            guard running[id] === plugin else { continue }
            if healthReports[id] != report {
                let level: Logger.Level = report.health == CARRIER_HEALTH_OK ? .info : .warning
                logger.log(level: level, "plugin health", metadata: ["plugin": "\(id)", "health": "\(Self.name(report.health))", "detail": "\(report.detail)"])
            }
            healthReports[id] = report
        }
        healthReports = healthReports.filter { running[$0.key] != nil }
    }

    /// "ok", "degraded" or "failing".
    public static func name(_ health: carrier_health) -> String { ["ok", "degraded", "failing"][min(Int(health.rawValue), 2)] }

    private func serially(_ work: @escaping @Sendable (isolated PluginHost) async -> Void) async {
        let previous = tail
        let task = Task {
            await previous?.value
            await work(self)
        }
        tail = task
        await task.value
    }

    private func applyNow(_ manifests: [PluginManifest], rejected: [RejectedManifest]) async {
        guard !stopped else { return }
        let wanted = Dictionary(manifests.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        let replaced = await stopOutdated(wanted)
        statuses = statuses.filter { wanted[$0.key] != nil }
        for rejection in rejected {
            let id = wanted[rejection.id] == nil ? rejection.id : rejection.file
            logger.error("plugin manifest rejected; the plugin does not run", metadata: ["plugin": "\(id)", "error": "\(rejection.error)"])
            statuses[id] = Status(id: id, manifest: rejection.file, state: .failed, isolation: rejection.isolation, version: nil,
                                  error: "\(rejection.error)")
        }
        for manifest in manifests {
            guard manifest.enabled else {
                statuses[manifest.id] = Status(id: manifest.id, manifest: manifest.file, state: .disabled, isolation: manifest.isolation,
                                               version: nil, error: nil)
                continue
            }
            guard running[manifest.id] == nil else { continue }
            await start(manifest, replacing: replaced[manifest.id])
        }
    }

    /// Stops, in reverse start order, the running plugins that `wanted` lacks or disables, and those
    /// it changes to a manifest whose library passes `checkLibrary`; one whose new library fails the
    /// check runs on untouched. Returns the manifests of the plugins stopped to be replaced.
    private func stopOutdated(_ wanted: [String: PluginManifest]) async -> [String: PluginManifest] {
        var replaced: [String: PluginManifest] = [:]
        for id in order.reversed() {
            guard let instance = running[id] else { continue }
            guard let replacement = wanted[id], replacement.enabled else {
                await stop(id)
                continue
            }
            guard replacement != instance.manifest else {
                // What is wanted runs: a refusal or failure reported by an earlier reload is over.
                markRunning(instance.manifest, version: statuses[id]?.version)
                continue
            }
            do {
                try Self.checkLibrary(of: replacement)
            } catch {
                refuse(replacement, keeping: instance, because: error)
                continue
            }
            replaced[id] = instance.manifest
            await stop(id)
        }
        return replaced
    }

    /// Checks, without touching the running instance, that `manifest`'s library can replace it: in
    /// process, that it loads (`PluginLibrary.load`: file, pin, `dlopen`, entry, table, id); in a
    /// plugin runner, that its file exists and matches its pin (loading it in the host would
    /// defeat the isolation; the runner checks the rest).
    private static func checkLibrary(of manifest: PluginManifest) throws(PluginLoadError) {
        switch manifest.isolation {
        case .inProcess: _ = try PluginLibrary.load(manifest)
        case .process: try PluginLibrary.checkPinnedFile(manifest)
        }
    }

    /// Leaves `instance` running after its reload to `replacement` was refused, and says why.
    private func refuse(_ replacement: PluginManifest, keeping instance: any HostedPlugin, because error: PluginLoadError) {
        logger.error("plugin reload refused; the previous manifest runs on", metadata: ["plugin": "\(replacement.id)", "error": "\(error)"])
        markRunning(instance.manifest, version: statuses[replacement.id]?.version,
                    note: "reload refused, still running the previous manifest: \(error)")
    }

    /// Starts `manifest`'s plugin. If it cannot run and it replaces `previous` (a reload), starts
    /// `previous` again so the service comes back; if that fails too, the plugin has failed with
    /// both reasons.
    private func start(_ manifest: PluginManifest, replacing previous: PluginManifest?) async {
        do {
            try await launch(manifest)
        } catch {
            guard let previous else {
                fail(manifest, "\(error)")
                return
            }
            logger.error("plugin reload failed; starting the previous manifest again", metadata: ["plugin": "\(manifest.id)", "error": "\(error)"])
            do {
                try await launch(previous, note: "reload failed, running the previous manifest again: \(error)")
            } catch let fallback {
                fail(manifest, "reload failed: \(error); the previous manifest did not start again either: \(fallback)")
            }
        }
    }

    /// Starts `manifest`'s plugin (once the plugins it depends on run), in process or in a runner,
    /// and records it as running with `note` in its status; throws why it could not.
    private func launch(_ manifest: PluginManifest, note: String? = nil) async throws {
        if let missing = manifest.dependsOn.first(where: { running[$0] == nil }) {
            throw PluginLoadError.dependencyNotRunning(dependency: missing)
        }
        let plugin: any HostedPlugin, version: String?
        switch manifest.isolation {
        case .inProcess:
            let library = try PluginLibrary.load(manifest)
            let instance = try await PluginInstance.create(manifest, library: library, environment: environment)
            try await instance.start()
            (plugin, version) = (instance, library.version)
        case .process:
            let isolated = try await IsolatedPlugin.start(manifest, environment: environment, settings: runnerSettings)
            (plugin, version) = (isolated, isolated.condition.version)
        }
        running[manifest.id] = plugin
        order.append(manifest.id)
        markRunning(manifest, version: version, note: note)
        logger.info("plugin started", metadata: ["plugin": "\(manifest.id)", "version": "\(version ?? "?")",
                                                 "isolation": "\(manifest.isolation.rawValue)"])
    }

    /// Records `manifest`'s plugin as running, with `note` (a reload refused or failed) as its error.
    private func markRunning(_ manifest: PluginManifest, version: String?, note: String? = nil) {
        statuses[manifest.id] = Status(id: manifest.id, manifest: manifest.file, state: .running, isolation: manifest.isolation,
                                       version: version, error: note)
    }

    private func stop(_ id: String) async {
        guard let instance = running.removeValue(forKey: id) else { return }
        order.removeAll { $0 == id }
        if let status = statuses[id] {
            statuses[id] = Status(id: id, manifest: status.manifest, state: .stopping, isolation: status.isolation, version: status.version,
                                  error: status.error)
        }
        do {
            try await instance.stopAndDestroy()
            statuses[id] = nil
            logger.info("plugin stopped", metadata: ["plugin": "\(id)"])
        } catch {
            // Kept in the list as failed: an operator must see a plugin stuck in `stop`.
            fail(instance.manifest, "did not stop cleanly: \(error)")
        }
    }

    private func fail(_ manifest: PluginManifest, _ error: String) {
        logger.error("plugin not running", metadata: ["plugin": "\(manifest.id)", "error": "\(error)"])
        statuses[manifest.id] = Status(id: manifest.id, manifest: manifest.file, state: .failed, isolation: manifest.isolation,
                                       version: nil, error: error)
    }
}
