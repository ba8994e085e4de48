import CarrierPluginABI

/// Why a plugin could not be loaded or started. Each case says exactly what an operator must fix.
public enum PluginLoadError: Error, Equatable, CustomStringConvertible {
    case libraryMissing(path: String)
    case notPinned(manifest: String)
    case hashMismatch(path: String, expected: String, actual: String)
    case cannotOpen(path: String, reason: String)
    /// The library at this path was loaded before and has changed since; a loaded library is
    /// never unloaded, so the new build needs a restart.
    case changedOnDisk(path: String)
    /// No `carrier_plugin_entry_v1`; `otherMajor` is a major the library does export, if any.
    case entrySymbolMissing(path: String, otherMajor: Int?)
    case entryReturnedNull(path: String)
    case tableTooSmall(path: String, size: Int, required: Int)
    case wrongABIMajor(path: String, found: Int)
    case missingFunction(path: String, name: String)
    case idMismatch(manifest: String, library: String)
    case createFailed(id: String, status: Int32, message: String)
    case startFailed(id: String, status: Int32, message: String)
    /// A call into the plugin did not return within the host's limit.
    case unresponsive(id: String, call: String, seconds: Double)
    /// The plugin runner (`isolation = "process"`) refused the plugin; `message` says why, as the
    /// in-process host would have.
    case inRunner(id: String, message: String)
    /// A plugin it depends on (`depends_on`) is not running.
    case dependencyNotRunning(dependency: String)

    public var description: String {
        switch self {
        case .libraryMissing(let path): return "library \(path) does not exist (build the plugin, or fix `library` in its manifest)"
        case .notPinned(let manifest): return "\(manifest) has no sha256; run `carrier plugins pin \(manifest)` to pin the library"
        case .hashMismatch(let path, let expected, let actual):
            return "library \(path) has sha256 \(actual), but its manifest pins \(expected): refusing a library that changed (re-pin it if the change is yours)"
        case .cannotOpen(let path, let reason): return "cannot load \(path): \(reason)"
        case .changedOnDisk(let path):
            return "\(path) changed since it was loaded; the host never unloads a library, so restart it to load the new build"
        case .entrySymbolMissing(let path, let otherMajor?):
            return "\(path) exports carrier_plugin_entry_v\(otherMajor), not carrier_plugin_entry_v1: it was built for ABI major \(otherMajor), this host speaks 1"
        case .entrySymbolMissing(let path, nil): return "\(path) does not export carrier_plugin_entry_v1: it is not a Carrier plugin (or was built without CARRIER_PLUGIN_EXPORT)"
        case .entryReturnedNull(let path): return "\(path): carrier_plugin_entry_v1 returned NULL (the plugin refuses this host's API table)"
        case .tableTooSmall(let path, let size, let required):
            return "\(path): its plugin table is \(size) bytes, smaller than the \(required) bytes of ABI 1.0"
        case .wrongABIMajor(let path, let found): return "\(path): its plugin table says ABI major \(found), this host speaks 1"
        case .missingFunction(let path, let name): return "\(path): its plugin table has no `\(name)` (NULL)"
        case .idMismatch(let manifest, let library): return "the manifest says id \"\(manifest)\" but the library is \"\(library)\""
        case .createFailed(let id, let status, let message): return "\(id): create failed (\(Self.name(status))): \(message)"
        case .startFailed(let id, let status, let message): return "\(id): start failed (\(Self.name(status))): \(message)"
        case .unresponsive(let id, let call, let seconds): return "\(id): \(call) did not return within \(seconds) s; the plugin is stuck"
        case .inRunner(let id, let message):
            // The runner's message may name the plugin first, as the in-process one would: once is enough.
            let reason = message.hasPrefix("\(id): ") ? String(message.dropFirst(id.count + 2)) : message
            return "\(id) (in its plugin runner): \(reason)"
        case .dependencyNotRunning(let dependency): return "not started: it depends on \(dependency), which is not running"
        }
    }

    private static func name(_ status: Int32) -> String { carrier_status(rawValue: UInt32(bitPattern: status)).name }
}
