import CarrierPluginABI
import Dispatch
import Foundation

/// One plugin instance: its library, its host context and the plugin's own instance pointer, driven
/// through create → start → stop → destroy. Every call into the plugin runs on the context's
/// executor and is given `callLimit` to return; a plugin that does not is reported `unresponsive`
/// and abandoned: whatever it does when (if) the call returns, it is then stopped and destroyed
/// behind it on the same executor, and its services are withdrawn. (Its thread stays blocked until
/// then; only `process` isolation can kill a stuck plugin.)
public final class PluginInstance: @unchecked Sendable {
    // @unchecked: `instance` is read and written only on the context's executor.

    public let manifest: PluginManifest
    public let library: PluginLibrary
    public let context: PluginContext
    /// How long a lifecycle call may take.
    public let callLimit: Duration
    private var instance: OpaquePointer?
    /// Whether `start` returned OK and `stop` has not run (executor only): decides whether the
    /// plugin must be stopped before it is destroyed.
    private var started = false

    /// The plugin's table, carried to the executor (static storage of the library).
    struct Table: @unchecked Sendable {
        let pointer: UnsafePointer<carrier_plugin_v1>
        var plugin: carrier_plugin_v1 { pointer.pointee }
    }

    var table: Table { Table(pointer: library.table) }

    private init(manifest: PluginManifest, library: PluginLibrary, context: PluginContext, callLimit: Duration) {
        self.manifest = manifest
        self.library = library
        self.context = context
        self.callLimit = callLimit
    }

    /// Creates an instance of `library` in this process, served by the host's own services.
    public static func create(_ manifest: PluginManifest, library: PluginLibrary, environment: HostEnvironment,
                              callLimit: Duration = .seconds(10)) async throws -> PluginInstance {
        try await create(manifest, library: library, services: LocalPluginServices(environment: environment, manifest: manifest, version: library.version),
                         dataDirectory: environment.dataDirectory, callLimit: callLimit)
    }

    /// Creates an instance of `library` with the manifest's config, its host-API calls served by
    /// `services`. Throws `createFailed` with the plugin's message, or `unresponsive`.
    static func create(_ manifest: PluginManifest, library: PluginLibrary, services: any PluginServices, dataDirectory: String,
                       callLimit: Duration) async throws -> PluginInstance {
        let context = try PluginContext(manifest: manifest, services: services, dataDirectory: dataDirectory)
        let plugin = PluginInstance(manifest: manifest, library: library, context: context, callLimit: callLimit)
        let table = plugin.table
        let (status, message) = try await plugin.call("create") { () -> (carrier_status, String) in
            var created: OpaquePointer?
            var error = [CChar](repeating: 0, count: 512)
            guard context.phase != .stopped else { return (CARRIER_ERR_SHUTTING_DOWN, "abandoned before create ran") }
            let status = table.plugin.create!(context.handle, context.configJSON, &created, &error, error.count)
            if status == CARRIER_OK, let created {
                plugin.instance = created
                // An instance abandoned meanwhile stays stopped; the abandonment destroys it next.
                context.advance(to: .created)
            } else {
                context.markStopped()
            }
            return (status, CRecords.string(error))
        }
        guard status == CARRIER_OK else {
            await services.withdrawAllServices()
            throw PluginLoadError.createFailed(id: manifest.id, status: Int32(bitPattern: status.rawValue),
                                               message: message.isEmpty ? "no message" : message)
        }
        guard context.phase == .created else {
            await services.withdrawAllServices()
            throw PluginLoadError.createFailed(id: manifest.id, status: 0, message: "create returned CARRIER_OK but no instance")
        }
        return plugin
    }

    /// Starts the plugin, then announces the service its manifest declares. On failure the
    /// instance is destroyed, its services withdrawn, and `startFailed` thrown.
    public func start() async throws {
        let table = self.table, context = self.context
        let (status, message) = try await call("start") { () -> (carrier_status, String) in
            guard let instance = self.instance, context.advance(to: .running) else { return (CARRIER_ERR_SHUTTING_DOWN, "the instance was abandoned") }
            var error = [CChar](repeating: 0, count: 512)
            let status = table.plugin.start!(instance, &error, error.count)
            if status == CARRIER_OK { self.started = true } else { self.destroyOnExecutor() }
            return (status, CRecords.string(error))
        }
        guard status == CARRIER_OK else {
            await context.services.withdrawAllServices()
            throw PluginLoadError.startFailed(id: manifest.id, status: Int32(bitPattern: status.rawValue), message: message.isEmpty ? "no message" : message)
        }
        if let service = manifest.service {
            do {
                try context.services.announceService(type: service.type, endpoint: service.endpoint)
            } catch {
                try? await stopAndDestroy()
                throw PluginLoadError.startFailed(id: manifest.id, status: 0, message: "its manifest's service cannot be announced: \(error)")
            }
        }
    }

    /// Stops the plugin (if it was started), abandons its pending calls, destroys it, and withdraws
    /// its services.
    public func stopAndDestroy() async throws {
        let table = self.table, context = self.context
        try await call("stop") {
            guard let instance = self.instance else { return }
            if self.started {
                context.advance(to: .stopping)
                table.plugin.stop!(instance)
                self.started = false
            }
            self.destroyOnExecutor()
        }
        await context.services.withdrawAllServices()
    }

    /// The plugin's health and its one-line detail (FAILING "not running" once destroyed).
    public func health() async throws -> (carrier_health, String) {
        let table = self.table
        return try await call("health") {
            guard let instance = self.instance else { return (CARRIER_HEALTH_FAILING, "not running") }
            var detail = [CChar](repeating: 0, count: 256)
            let health = table.plugin.health!(instance, &detail, detail.count)
            return (health, CRecords.string(detail))
        }
    }

    /// Hands the plugin a settlement batch (settlement backends only); its answer: CARRIER_OK if it took it.
    public func settle(batchId: UInt64, json: String) async throws -> carrier_status {
        let table = self.table
        guard library.isSettlementBackend else { return CARRIER_ERR_UNSUPPORTED }
        return try await call("settle") {
            guard let instance = self.instance, let settle = table.plugin.settle else { return CARRIER_ERR_SHUTTING_DOWN }
            return json.withCString { settle(instance, batchId, $0, strlen($0)) }
        }
    }

    /// On the executor: releases what the host holds for the instance (timers, subscription,
    /// pending calls told SHUTTING_DOWN), then destroys it.
    private func destroyOnExecutor() {
        guard let instance else { return }
        context.releaseAfterStop()
        table.plugin.destroy!(instance)
        self.instance = nil
    }

    /// Runs `body` on the executor and waits at most `callLimit` for it. When a lifecycle call
    /// (create, start, stop; not health or settle) times out, the instance is abandoned: behind the stuck call, a started
    /// instance is stopped, then destroyed, and its services are withdrawn now.
    func call<T: Sendable>(_ name: String, _ body: @escaping @Sendable () -> T) async throws -> T {
        let outcome = OneShot<T>()
        context.executor.async { outcome.fulfil(body()) }
        if let result = await outcome.value(within: callLimit) { return result }
        if name != "health" && name != "settle" {
            let table = self.table, context = self.context
            context.markStopped()
            context.executor.async {
                // Behind the stuck call: a plugin that started (late, or before a stuck stop) is
                // stopped before it is destroyed.
                if self.started, let instance = self.instance {
                    table.plugin.stop!(instance)
                    self.started = false
                }
                self.destroyOnExecutor()
            }
            await context.services.withdrawAllServices()
        }
        throw PluginLoadError.unresponsive(id: manifest.id, call: name,
                                           seconds: callLimit.seconds)
    }
}

/// The cost of crossing the ABI, measured on the instance's executor as real calls would be
/// (`make bench`): host → plugin through the plugin table, and plugin → host through the host API.
extension PluginInstance {
    /// Calls the plugin's `health` `count` times in a row on its executor; returns the time taken.
    public func timePluginCalls(_ count: Int) -> Duration {
        let table = self.table
        return context.executor.sync {
            guard let instance else { return .zero }
            var detail = [CChar](repeating: 0, count: 64)
            let health = table.plugin.health!
            return ContinuousClock().measure { for _ in 0..<count { _ = health(instance, &detail, detail.count) } }
        }
    }

    /// A host-API function `timeHostCalls` can time.
    public enum HostCall: Sendable {
        /// `counter_add` of counter `abi_calls`: one-way (a message, in a runner).
        case counterAdd
        /// `sign` of 32 bytes: a round trip to the host, in a runner.
        case sign
    }

    /// Calls a host-API function `count` times on the executor, as the plugin would; returns the time taken.
    public func timeHostCalls(_ count: Int, call: HostCall = .counterAdd) -> Duration {
        let handle = context.handle
        return context.executor.sync {
            let api = HostAPI.table.pointee
            switch call {
            case .counterAdd:
                let counterAdd = api.counter_add!
                return ContinuousClock().measure { for _ in 0..<count { _ = counterAdd(handle, "abi_calls", 1) } }
            case .sign:
                let sign = api.sign!
                var data = [UInt8](repeating: 7, count: 32), signature = [UInt8](repeating: 0, count: 64)
                return ContinuousClock().measure { for _ in 0..<count { _ = sign(handle, &data, data.count, &signature) } }
            }
        }
    }
}
