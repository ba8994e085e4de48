import CarrierCore
import CarrierPluginABI
import Foundation
import Logging
import Synchronization

/// A plugin with `isolation = "process"`: it runs in a `carrier plugin-runner` child, and this
/// object supervises it. The first launch (load, create, start) is awaited; if the plugin refuses
/// (a bad pin, a failing create or start), that is reported like an in-process failure. If the
/// runner is lost instead (it crashed, or overran a time limit and was killed), its services are
/// withdrawn and it is launched again after a backoff of 1, 2, 4 … 60 s (reset after 5 minutes of
/// running), until the host stops the plugin. The DHT and the other plugins never wait on it.
public final class IsolatedPlugin: HostedPlugin {
    public let manifest: PluginManifest
    private let environment: HostEnvironment
    private let settings: RunnerSettings
    private let logger: Logger

    /// Where the supervised plugin stands, for `carrier plugins list`.
    public struct Condition: Sendable, Equatable {
        /// Whether a runner is serving the plugin now.
        public var running: Bool
        /// The library's version, once a runner loaded it.
        public var version: String?
        /// How many times a runner was lost.
        public var losses: Int
        /// How the last runner was lost.
        public var lastLoss: String?
        /// The pid of the current runner.
        public var pid: Int32?
    }

    private struct State {
        var condition = Condition(running: false, version: nil, losses: 0, lastLoss: nil, pid: nil)
        var session: RunnerSession?
        /// The runner being launched, until it started (stopping kills it).
        var launching: RunnerSession?
        var stopping = false
        var supervisor: Task<Void, Never>?
        /// The plugin's capability bits, from its runner's `load` answer.
        var capabilities: UInt64 = 0
    }

    private let state = Mutex(State())

    private init(manifest: PluginManifest, environment: HostEnvironment, settings: RunnerSettings) {
        self.manifest = manifest
        self.environment = environment
        self.settings = settings
        logger = Logger(label: "carrier.runner.\(manifest.id)")
    }

    /// Launches the plugin's runner. Throws when the plugin refuses to run (the same errors as in
    /// process, carried from the runner); a runner lost during the launch is restarted instead.
    public static func start(_ manifest: PluginManifest, environment: HostEnvironment, settings: RunnerSettings) async throws -> IsolatedPlugin {
        let plugin = IsolatedPlugin(manifest: manifest, environment: environment, settings: settings)
        do {
            let session = try await plugin.launch()
            plugin.supervise(session, attempt: 0, since: .now)
        } catch .refused(let message) {
            throw PluginLoadError.inRunner(id: manifest.id, message: message)
        } catch {
            plugin.lost(error.description)
            plugin.supervise(nil, attempt: 0, since: .now)
        }
        return plugin
    }

    /// What the supervisor knows now. A runner that has ended is lost from that moment, before the
    /// supervisor has reaped it and noted how (the plugin is never shown running on a dead runner).
    public var condition: Condition {
        state.withLock { state in
            var condition = state.condition
            guard condition.running, !state.stopping, let session = state.session, session.isFinished,
                  condition.pid == session.process.pid else { return condition }
            condition.running = false
            condition.losses += 1
            condition.lastLoss = session.ended.current ?? "its runner ended (how is being found out)"
            condition.pid = nil
            return condition
        }
    }

    /// One runner from spawn to a started plugin; on any failure the runner is killed and reaped.
    private func launch() async throws(RunnerSession.Failure) -> RunnerSession {
        let session: RunnerSession
        do { session = try RunnerSession.start(settings: settings, pluginId: manifest.id) } catch {
            throw .lost("it could not be started: \(error)")
        }
        let stopping = state.withLock { state in
            state.condition.pid = session.process.pid
            state.launching = session
            return state.stopping
        }
        defer { state.withLock { $0.launching = nil } }
        if stopping { session.kill(because: "the plugin is being stopped") }
        do {
            let fields = manifest.runnerFields.merging(["data_directory": .text(environment.dataDirectory),
                                                        "node_id": .bytes(environment.identity.publicKey.bytes)]) { first, _ in first }
            let loaded = try await session.request("load", fields, limit: settings.callLimit)
            let version = (try? loaded.text("version")) ?? manifest.version
            let capabilities = (try? loaded.unsigned("capabilities")) ?? 0
            state.withLock { $0.capabilities = capabilities }
            let services = LocalPluginServices(environment: environment, manifest: manifest, version: version)
            session.attach(RunnerCalls(services: services, socket: session.process.socket) { [weak session] in
                session?.kill(because: "it did not read the host's answers")
            })
            _ = try await session.request("create", limit: settings.callLimit)
            _ = try await session.request("start", limit: settings.callLimit)
            state.withLock { $0.condition.version = version; $0.condition.running = true }
            return session
        } catch {
            await end(session, because: error.description)
            throw error
        }
    }

    /// Kills a session that failed and withdraws what it announced.
    private func end(_ session: RunnerSession, because reason: String) async {
        if !session.isFinished { session.kill(because: reason) }
        _ = await session.ended.value(within: .seconds(30))
        await session.calls?.services.withdrawAllServices()
    }

    private func lost(_ reason: String) {
        state.withLock { state in
            guard !state.stopping else { return }
            state.condition.running = false
            state.condition.losses += 1
            state.condition.lastLoss = reason
            state.condition.pid = nil
        }
    }

    /// Waits for `session` to end, then relaunches with backoff, until the plugin is stopped.
    private func supervise(_ session: RunnerSession?, attempt: Int, since: ContinuousClock.Instant) {
        // Recorded before the task runs: a relaunch records its own session, which must not be
        // overwritten by this one.
        state.withLock { $0.session = session }
        let task = Task { [self] in
            var session = session, attempt = attempt, since = since
            while true {
                if let current = session {
                    let reason = await current.ended.value
                    if state.withLock({ $0.stopping }) { return }
                    await current.calls?.services.withdrawAllServices()
                    lost(reason)
                    if ContinuousClock.now - since >= settings.stableAfter { attempt = 0 }
                }
                let delay = settings.restartDelay(attempt: attempt)
                attempt += 1
                logger.error("plugin runner lost; restarting", metadata: ["reason": "\(condition.lastLoss ?? "")", "in": "\(delay)",
                                                                          "losses": "\(condition.losses)"])
                try? await Task.sleep(for: delay)
                if Task.isCancelled || state.withLock({ $0.stopping }) { return }
                let started: RunnerSession
                do { started = try await launch() } catch {
                    lost("\(error)")
                    session = nil
                    continue
                }
                let keep = state.withLock { state in
                    guard !state.stopping else { return false }
                    state.session = started
                    return true
                }
                guard keep else { try? await stop(started); return }
                logger.notice("plugin runner restarted", metadata: ["pid": "\(started.process.pid)"])
                session = started
                since = .now
            }
        }
        state.withLock { $0.supervisor = task }
    }

    public func health() async throws -> (carrier_health, String) {
        let condition = self.condition, session = state.withLock { $0.session }
        guard let session, condition.running else {
            return (CARRIER_HEALTH_FAILING, "its runner is being restarted (lost \(condition.losses) times; last: \(condition.lastLoss ?? "unknown"))")
        }
        let answer = try await session.request("health", limit: settings.callLimit)
        let health = try answer.unsigned("health")
        return (carrier_health(rawValue: UInt32(min(health, 2))), (try? answer.text("detail")) ?? "")
    }

    /// Stops the plugin in its runner (stop, then destroy), lets the runner exit, and withdraws its
    /// services. A runner that does not stop within the limit is killed, and that is thrown.
    public func stopAndDestroy() async throws {
        let (session, launching, supervisor) = state.withLock { state in
            state.stopping = true
            return (state.session, state.launching, state.supervisor)
        }
        supervisor?.cancel()
        launching?.kill(because: "the plugin is being stopped")
        var failure: (any Error)?
        if let session, !session.isFinished {
            do { try await stop(session) } catch { failure = error }
        } else {
            // A runner that died just before: the supervisor, seeing `stopping`, will not withdraw.
            await session?.calls?.services.withdrawAllServices()
        }
        // The supervisor ends without starting another runner (one launching now was killed).
        await supervisor?.value
        state.withLock { $0.condition.running = false; $0.condition.pid = nil }
        if let failure { throw failure }
    }

    private func stop(_ session: RunnerSession) async throws {
        defer { state.withLock { $0.condition.running = false; $0.condition.pid = nil } }
        var failure: RunnerSession.Failure?
        do {
            _ = try await session.request("stop", limit: settings.callLimit)
            session.sendExit()
            if await session.ended.value(within: settings.callLimit) == nil { session.kill(because: "it did not exit after stop") }
        } catch {
            failure = error
        }
        await end(session, because: "stopped")
        if let failure, case .timedOut = failure {
            throw PluginLoadError.unresponsive(id: manifest.id, call: "stop", seconds: settings.callLimit.seconds)
        }
    }

    public var isSettlementBackend: Bool { state.withLock { $0.capabilities & PluginLibrary.settlementCapability != 0 } }

    public func settle(batchId: UInt64, json: String) async throws -> carrier_status {
        guard let session = state.withLock({ $0.session }), !session.isFinished else { return CARRIER_ERR_SHUTTING_DOWN }
        let answer = try await session.request("settle", ["batch": .unsigned(batchId), "json": .text(json)], limit: settings.callLimit)
        return carrier_status(rawValue: UInt32(truncatingIfNeeded: try answer.unsigned("status")))
    }

    /// Has the runner call a host-API function `count` times on the plugin's executor, as the
    /// plugin would (`make bench`); returns the time the runner measured.
    public func timeHostCalls(_ count: Int, call: PluginInstance.HostCall) async throws -> Duration {
        guard let session = state.withLock({ $0.session }) else { throw RunnerSession.Failure.lost("no runner") }
        let name = switch call { case .counterAdd: "counter_add"; case .sign: "sign" }
        let answer = try await session.request("time", ["call": .text(name), "count": .unsigned(UInt64(count))], limit: .seconds(120))
        return .nanoseconds(Int64(clamping: try answer.unsigned("nanoseconds")))
    }
}
