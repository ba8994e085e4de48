import CarrierPluginABI
import Dispatch
import Foundation

/// One running plugin: its library, its host context and the plugin's own instance pointer, driven
/// through create → start → stop → destroy. Every call into the plugin runs on the context's
/// executor and is given `callLimit` to return; a plugin that does not is reported `unresponsive`
/// (its executor stays blocked; only a plugin in `process` isolation can be killed).
public final class PluginInstance: @unchecked Sendable {
    // @unchecked: `instance` is written once by create and read on the executor afterwards.

    public let manifest: PluginManifest
    public let library: PluginLibrary
    public let context: PluginContext
    /// How long a lifecycle call may take.
    public let callLimit: Duration
    private var instance: OpaquePointer?

    /// The plugin's table and instance, carried to the executor (plain pointers the plugin owns).
    struct Pointers: @unchecked Sendable {
        let table: UnsafePointer<carrier_plugin_v1>
        let instance: OpaquePointer?
    }

    var pointers: Pointers { Pointers(table: library.table, instance: instance) }

    private init(manifest: PluginManifest, library: PluginLibrary, context: PluginContext, callLimit: Duration) {
        self.manifest = manifest
        self.library = library
        self.context = context
        self.callLimit = callLimit
    }

    /// Creates an instance of `library` with the manifest's config. Throws `createFailed` with the
    /// plugin's message, or `unresponsive`.
    public static func create(_ manifest: PluginManifest, library: PluginLibrary, environment: HostEnvironment,
                              callLimit: Duration = .seconds(10)) async throws -> PluginInstance {
        let context = try PluginContext(manifest: manifest, environment: environment)
        let plugin = PluginInstance(manifest: manifest, library: library, context: context, callLimit: callLimit)
        let pointers = plugin.pointers
        let (status, message) = try await plugin.onExecutor("create") { () -> (carrier_status, String) in
            var created: OpaquePointer?
            var error = [CChar](repeating: 0, count: 512)
            let status = pointers.table.pointee.create!(context.handle, context.configJSON, &created, &error, error.count)
            if status == CARRIER_OK { plugin.instance = created }
            return (status, CRecords.string(error))
        }
        guard status == CARRIER_OK, plugin.instance != nil else {
            context.phase = .stopped
            throw PluginLoadError.createFailed(id: manifest.id, status: Int32(bitPattern: status.rawValue),
                                               message: status == CARRIER_OK ? "create returned no instance" : message.isEmpty ? "no message" : message)
        }
        context.phase = .created
        return plugin
    }

    /// Starts the plugin, then announces the service its manifest declares. On failure the
    /// instance is destroyed and `startFailed` thrown.
    public func start() async throws {
        let pointers = self.pointers
        context.phase = .running
        let (status, message) = try await onExecutor("start") { () -> (carrier_status, String) in
            var error = [CChar](repeating: 0, count: 512)
            let status = pointers.table.pointee.start!(pointers.instance, &error, error.count)
            return (status, CRecords.string(error))
        }
        guard status == CARRIER_OK else {
            try? await destroy()
            throw PluginLoadError.startFailed(id: manifest.id, status: Int32(bitPattern: status.rawValue), message: message.isEmpty ? "no message" : message)
        }
        if let service = manifest.service {
            await context.environment.services.announce(type: service.type, endpointTemplate: service.endpoint, plugin: manifest.id,
                                                        version: library.version, priceSummary: nil)
        }
    }

    /// Stops the plugin, withdraws its services, abandons its pending calls, then destroys it.
    public func stopAndDestroy() async throws {
        let pointers = self.pointers, context = self.context
        if context.phase == .running {
            context.phase = .stopping
            try await onExecutor("stop") {
                pointers.table.pointee.stop!(pointers.instance)
                context.releaseAfterStop()
            }
        }
        await context.environment.services.withdrawAll(plugin: manifest.id)
        try await destroy()
    }

    /// The plugin's health and its one-line detail.
    public func health() async throws -> (carrier_health, String) {
        let pointers = self.pointers
        return try await onExecutor("health") {
            var detail = [CChar](repeating: 0, count: 256)
            let health = pointers.table.pointee.health!(pointers.instance, &detail, detail.count)
            return (health, CRecords.string(detail))
        }
    }

    private func destroy() async throws {
        let pointers = self.pointers, context = self.context
        try await onExecutor("destroy") {
            if context.phase != .stopped { context.releaseAfterStop() }
            pointers.table.pointee.destroy!(pointers.instance)
        }
        self.instance = nil
    }

    /// Runs `body` on the executor and waits at most `callLimit` for it.
    private func onExecutor<T: Sendable>(_ call: String, _ body: @escaping @Sendable () -> T) async throws -> T {
        let outcome = OneShot<T>()
        context.executor.async { outcome.fulfil(body()) }
        guard let result = await outcome.value(within: callLimit) else {
            throw PluginLoadError.unresponsive(id: manifest.id, call: call,
                                               seconds: Double(callLimit.components.seconds) + Double(callLimit.components.attoseconds) / 1e18)
        }
        return result
    }
}
