import CarrierCore
@testable import CarrierHost
import CarrierPluginABI
import Logging
import Synchronization

/// A plugin context on a real host network, with no library: tests call the host-API table on it
/// as a C plugin would, and read what the host logged for the plugin.
struct ABIFixture {
    let network: HostNetwork
    let context: PluginContext
    let logs: LogLines

    /// The lines the host logged for the plugin.
    final class LogLines: Sendable {
        let lines = Mutex<[String]>([])
    }

    /// A context in its `creating` phase (call `context.advance(to: .running)` to go on).
    static func make(id: String, config: String = "greeting = \"hi\"") async throws -> ABIFixture {
        let network = try await HostNetwork.start()
        let manifest = try HostNetwork.manifest(library: "/nonexistent.so", id: id, pin: .some(nil), config: config)
        let logs = LogLines()
        let logger = Logger(label: "test.\(id)") { _ in Recorder(logs: logs) }
        let services = LocalPluginServices(environment: network.environment, manifest: manifest, version: "1.0.0", logger: logger)
        let context = try PluginContext(manifest: manifest, services: services, dataDirectory: network.host.configuration.dataDirectory)
        return ABIFixture(network: network, context: context, logs: logs)
    }

    var api: carrier_host_api_v1 { HostAPI.table.pointee }
    var host: OpaquePointer { context.handle }

    /// Stops the instance as the host does after `stop` returned, on its executor.
    func releaseAfterStop() {
        context.advance(to: .stopping)
        context.executor.sync { context.releaseAfterStop() }
    }

    private struct Recorder: LogHandler {
        let logs: LogLines
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            logs.lines.withLock { $0.append("\(event.message)") }
        }
    }
}

/// What the plugin-side callbacks of a test saw, in order; handed to C callbacks as user data.
final class CallbackTally: Sendable {
    let seen = Mutex<[String]>([])

    var pointer: UnsafeMutableRawPointer { Unmanaged.passUnretained(self).toOpaque() }

    static func from(_ pointer: UnsafeMutableRawPointer?) -> CallbackTally {
        Unmanaged<CallbackTally>.fromOpaque(pointer!).takeUnretainedValue()
    }

    func note(_ what: String) { seen.withLock { $0.append(what) } }
    var events: [String] { seen.withLock { $0 } }
}
