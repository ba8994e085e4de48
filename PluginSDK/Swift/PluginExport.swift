import CarrierPluginABI
#if canImport(Glibc)
import Glibc
#endif

/// Builds the C plugin table for a `CarrierPlugin` type. A plugin library holds one plugin type,
/// kept in a global because C function pointers cannot carry a Swift type.
public enum PluginExport {
    nonisolated(unsafe) private static var pluginType: (any CarrierPlugin.Type)?
    nonisolated(unsafe) static var api: UnsafePointer<carrier_host_api_v1>?
    nonisolated(unsafe) private static var table: UnsafeMutablePointer<carrier_plugin_v1>?

    /// What the exported `carrier_plugin_entry_v1` returns: this type's table, or nil when the host's
    /// API table is older than the fields this SDK uses.
    public static func entry(_ type: any CarrierPlugin.Type, _ hostAPI: UnsafePointer<carrier_host_api_v1>?) -> UnsafePointer<carrier_plugin_v1>? {
        guard let hostAPI, hostAPI.pointee.abi_version >> 16 == 1,
              Int(hostAPI.pointee.struct_size) >= MemoryLayout<carrier_host_api_v1>.size else { return nil }
        if let table { return UnsafePointer(table) }
        pluginType = type
        api = hostAPI
        let made = UnsafeMutablePointer<carrier_plugin_v1>.allocate(capacity: 1)
        made.initialize(to: makeTable(type))
        table = made
        return UnsafePointer(made)
    }

    private static func makeTable(_ type: any CarrierPlugin.Type) -> carrier_plugin_v1 {
        var table = carrier_plugin_v1()
        table.struct_size = UInt32(MemoryLayout<carrier_plugin_v1>.size)
        table.abi_version = UInt32(CARRIER_ABI_MAJOR) << 16 | UInt32(CARRIER_ABI_MINOR)
        table.id = UnsafePointer(strdup(type.id))
        table.version = UnsafePointer(strdup(type.version))
        table.description = UnsafePointer(strdup(type.summary))
        table.capabilities = type.capabilities.rawValue
        table.create = { host, config, instanceOut, errorBuffer, capacity in
            guard let pluginType = PluginExport.pluginType, let api = PluginExport.api, let host, let instanceOut else {
                return CARRIER_ERR_INVALID_ARGUMENT
            }
            do {
                let plugin = try OnExecutor.run(host) {
                    try pluginType.init(host: CarrierHostAPI(api: api, handle: host), configJSON: config.map { String(cString: $0) } ?? "{}")
                }
                instanceOut.pointee = OpaquePointer(Unmanaged.passRetained(Box(plugin, host: host)).toOpaque())
                return CARRIER_OK
            } catch {
                PluginExport.write("\(error)", to: errorBuffer, capacity: capacity)
                return CARRIER_ERR_FAILED
            }
        }
        table.start = { instance, errorBuffer, capacity in
            guard let (plugin, host) = PluginExport.entered(instance) else { return CARRIER_ERR_INVALID_ARGUMENT }
            do {
                try OnExecutor.run(host) { try plugin.start() }
                return CARRIER_OK
            } catch {
                PluginExport.write("\(error)", to: errorBuffer, capacity: capacity)
                return CARRIER_ERR_FAILED
            }
        }
        table.stop = { instance in
            guard let (plugin, host) = PluginExport.entered(instance) else { return }
            OnExecutor.run(host) { plugin.stop() }
        }
        table.destroy = { instance in
            guard let instance else { return }
            let box = Unmanaged<Box>.fromOpaque(UnsafeRawPointer(instance))
            // The host calls nothing of the instance after destroy: its timers, posts and event
            // handler can go, with anything they captured.
            HostHeld.dropAll(host: box.takeUnretainedValue().host)
            box.release()
        }
        table.health = { instance, detail, capacity in
            guard let (plugin, host) = PluginExport.entered(instance) else { return CARRIER_HEALTH_FAILING }
            let (health, text) = OnExecutor.run(host) { plugin.health() }
            PluginExport.write(text, to: detail, capacity: capacity)
            return health.c
        }
        if type.capabilities.contains(.settlement) {
            table.settle = { instance, batchId, json, length in
                guard let (plugin, host) = PluginExport.entered(instance), let json else { return CARRIER_ERR_INVALID_ARGUMENT }
                let text = String(decoding: UnsafeRawBufferPointer(start: json, count: length), as: UTF8.self)
                return OnExecutor.run(host) { plugin.settle(batchId: batchId, batchJSON: text) } ? CARRIER_OK : CARRIER_ERR_REFUSED
            }
        }
        return table
    }

    /// Holds the plugin object behind the C instance pointer.
    private final class Box {
        let plugin: any CarrierPlugin
        let host: OpaquePointer
        init(_ plugin: any CarrierPlugin, host: OpaquePointer) {
            self.plugin = plugin
            self.host = host
        }
    }

    /// The plugin object behind the C instance pointer, and its host handle.
    private static func entered(_ instance: OpaquePointer?) -> (any CarrierPlugin, OpaquePointer)? {
        instance.map { Unmanaged<Box>.fromOpaque(UnsafeRawPointer($0)).takeUnretainedValue() }.map { ($0.plugin, $0.host) }
    }

    /// Copies `text` into a host buffer, NUL-terminated and truncated to fit.
    static func write(_ text: String, to buffer: UnsafeMutablePointer<CChar>?, capacity: Int) {
        guard let buffer, capacity > 0 else { return }
        let bytes = Array(text.utf8.prefix(capacity - 1))
        for (index, byte) in bytes.enumerated() { buffer[index] = CChar(bitPattern: byte) }
        buffer[bytes.count] = 0
    }
}
