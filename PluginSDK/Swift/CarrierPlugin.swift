import CarrierPluginABI

/// A plugin written in Swift: a class conforming to this protocol, plus one exported entry
/// function that hands the type to `PluginExport`:
///
/// ```swift
/// @_cdecl("carrier_plugin_entry_v1")
/// public func carrierPluginEntry(_ api: UnsafePointer<carrier_host_api_v1>?) -> UnsafePointer<carrier_plugin_v1>? {
///     PluginExport.entry(MyPlugin.self, api)
/// }
/// ```
///
/// Every method runs on the instance's executor (one at a time), as the C contract says, and so do
/// timers and posted work. Run async code with `host.task { ... }`: it runs on the executor too,
/// and resumes there after each `await` on a host call, so it needs no locks. (A plain `Task`
/// resumes on another thread: use `host.post` there to come back.)
public protocol CarrierPlugin: AnyObject {
    /// The plugin's id, as in its manifest, e.g. "org.example.hello".
    static var id: String { get }
    static var version: String { get }
    /// One line for operators.
    static var summary: String { get }
    static var capabilities: PluginCapabilities { get }

    /// `create`: the host handle and the manifest's `[config]` as JSON text. Define meters here.
    /// Throw `PluginError` (or any error) to refuse, with a message the host logs.
    init(host: CarrierHostAPI, configJSON: String) throws
    /// Start serving.
    func start() throws
    /// Stop serving (the host then abandons pending calls and timers).
    func stop()
    /// How the plugin is, with a one-line detail.
    func health() -> (PluginHealth, String)
    /// Settlement backends (`capabilities` has `.settlement`): take settlement batch `batchId` (its
    /// signed JSON, see docs/billing.md) and later call `host.reportSettlement`; return false to
    /// refuse it for now. The default refuses.
    func settle(batchId: UInt64, batchJSON: String) -> Bool
}

extension CarrierPlugin {
    public func settle(batchId: UInt64, batchJSON: String) -> Bool { false }
}

/// Capability bits of `carrier_plugin_v1.capabilities`.
public struct PluginCapabilities: OptionSet, Sendable {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public static let service = PluginCapabilities(rawValue: 1 << 0)
    public static let settlement = PluginCapabilities(rawValue: 1 << 1)
}

/// A plugin's health.
public enum PluginHealth: Sendable {
    case ok, degraded, failing

    var c: carrier_health {
        switch self {
        case .ok: CARRIER_HEALTH_OK
        case .degraded: CARRIER_HEALTH_DEGRADED
        case .failing: CARRIER_HEALTH_FAILING
        }
    }
}

/// A failure with a message for the host's log.
public struct PluginError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
