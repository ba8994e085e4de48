import Foundation
import CarrierPluginABI

/// A plugin the host runs, in process (`PluginInstance`) or in a plugin runner (`IsolatedPlugin`).
public protocol HostedPlugin: AnyObject, Sendable {
    /// The manifest it was started from.
    var manifest: PluginManifest { get }
    /// The plugin's health and its one-line detail.
    func health() async throws -> (carrier_health, String)
    /// Stops and destroys it and withdraws its services.
    func stopAndDestroy() async throws
    /// Whether it is a settlement backend (the settlement capability).
    var isSettlementBackend: Bool { get }
    /// Hands it settlement batch `batchId` (JSON); CARRIER_OK if it took it.
    func settle(batchId: UInt64, json: String) async throws -> carrier_status
}

/// A running plugin with the settlement capability, as the settlement desk's backend.
public struct PluginSettlementBackend: SettlementBackend {
    public let plugin: any HostedPlugin
    public var name: String { plugin.manifest.id }

    public init(plugin: any HostedPlugin) {
        self.plugin = plugin
    }

    public func offer(_ batch: SettlementBatch, to desk: SettlementDesk) async -> Bool {
        (try? await plugin.settle(batchId: batch.id, json: batch.json)) == CARRIER_OK
    }
}

extension PluginInstance: HostedPlugin {
    public var isSettlementBackend: Bool { library.isSettlementBackend }
}

/// How the host runs plugins with `isolation = "process"`.
public struct RunnerSettings: Sendable {
    /// The `carrier` executable whose `plugin-runner` command runs them (by default this process's own).
    public var executable: String
    /// The wait before the first restart after a runner is lost; it doubles at each loss in a row.
    public var firstRestartDelay: Duration = .seconds(1)
    /// The longest wait between restarts.
    public var maximumRestartDelay: Duration = .seconds(60)
    /// A runner that lived this long starts its next restart from `firstRestartDelay` again.
    public var stableAfter: Duration = .seconds(300)
    /// How long a lifecycle request (load, create, start, stop, health) may take before the runner is killed.
    public var callLimit: Duration = .seconds(10)
    /// Whether a crashing runner prints Swift's backtrace of every thread to stderr (slow, but it
    /// shows the operator where the plugin crashed).
    public var crashBacktraces = true

    public init(executable: String = RunnerSettings.currentExecutable) {
        self.executable = executable
    }

    /// The wait before restart number `attempt` (0 for the first restart after a stable run).
    func restartDelay(attempt: Int) -> Duration {
        var delay = firstRestartDelay
        for _ in 0..<min(attempt, 16) where delay < maximumRestartDelay { delay *= 2 }
        return min(delay, maximumRestartDelay)
    }

    /// This process's executable (the `carrier` binary, when the host is `carrier run`).
    public static var currentExecutable: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }
}
