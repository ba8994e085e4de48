import CarrierCore
@testable import CarrierHost
import CarrierPluginABI
import Foundation
import TestSupport
import Testing

/// Reloading a running plugin with a changed manifest: a new library that fails its check (pin,
/// file, load) is refused before the running instance is touched, which keeps serving; one that
/// passes but then cannot create or start has the previous manifest started again.
@Suite(.serialized)
struct PluginReloadTests {
    /// A pin no library has.
    private static let wrongPin = String(repeating: "0", count: 64)

    private func pluginHost(_ network: HostNetwork) -> PluginHost {
        PluginHost(environment: network.environment, runnerSettings: RunnerSettings(executable: CarrierBinary.path))
    }

    @Test(arguments: PluginHostTests.isolations) func aWrongPinOnReloadKeepsThePreviousInstanceServing(isolation: PluginManifest.Isolation) async throws {
        let library = try await CPlugins.helloC()
        try await expectRefusedReload(from: try HostNetwork.manifest(library: library, isolation: isolation),
                                      to: try HostNetwork.manifest(library: library, pin: .some(Self.wrongPin), isolation: isolation),
                                      because: "but its manifest pins \(Self.wrongPin)")
    }

    @Test(arguments: PluginHostTests.isolations) func aMissingLibraryOnReloadKeepsThePreviousInstanceServing(isolation: PluginManifest.Isolation) async throws {
        let missing = "/nonexistent/libhello-c.so"
        try await expectRefusedReload(from: try HostNetwork.manifest(library: try await CPlugins.helloC(), isolation: isolation),
                                      to: try HostNetwork.manifest(library: missing, pin: .some(Self.wrongPin), isolation: isolation),
                                      because: "library \(missing) does not exist")
    }

    @Test(arguments: PluginHostTests.isolations) func aReloadWhoseCreateFailsStartsThePreviousManifestAgain(isolation: PluginManifest.Isolation) async throws {
        let network = try await HostNetwork.start()
        let host = pluginHost(network)
        let library = try await CPlugins.helloC()
        let previous = try HostNetwork.manifest(library: library, isolation: isolation)
        await host.apply([previous])
        #expect(await host.status.first?.state == .running)

        // The same library passes the check; its create refuses the port.
        await host.apply([try HostNetwork.manifest(library: library, config: "port = 70000", isolation: isolation)])
        let status = try #require(await host.status.first)
        #expect(status.state == .running && status.version == "1.0.0", "\(status)")
        #expect(status.error?.contains("reload failed, running the previous manifest again") == true, "\(status.error ?? "no error")")
        #expect(status.error?.contains("config.port 70000 is not a TCP port") == true, "\(status.error ?? "no error")")
        let instance = try #require(await host.instance(previous.id))
        #expect(instance.manifest == previous)
        let port = try await Self.servingPort(instance)
        #expect(try TCPLine.read(port: port) == "hi from \(Hex.encode(network.host.id.bytes))")
        await host.stopAll()
        await network.stop()
    }

    @Test(arguments: PluginHostTests.isolations) func aReloadThatFailsAndWhosePreviousManifestFailsTooReportsBoth(isolation: PluginManifest.Isolation) async throws {
        let network = try await HostNetwork.start()
        let host = pluginHost(network)
        let library = try await CPlugins.helloC()
        let previous = try HostNetwork.manifest(library: library, isolation: isolation)
        await host.apply([previous])
        #expect(await host.status.first?.state == .running)

        // The previous library no longer matches its pin; the new one (another copy) passes its
        // check but its create refuses the port.
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: library))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data([0]))
        try handle.close()
        await host.apply([try HostNetwork.manifest(library: try await CPlugins.helloC(), config: "port = 70000", isolation: isolation)])
        let status = try #require(await host.status.first)
        #expect(status.state == .failed, "\(status)")
        #expect(status.error?.contains("config.port 70000 is not a TCP port") == true, "\(status.error ?? "no error")")
        #expect(status.error?.contains("but its manifest pins") == true, "\(status.error ?? "no error")")
        #expect(await host.instance(previous.id) == nil)
        await host.stopAll()
        await network.stop()
    }

    /// Starts `previous`, reloads with `broken`, and checks the reload was refused with `expected`
    /// while the same instance (and, in a runner, the same runner process) kept serving; then that a
    /// reload that succeeds clears the refusal.
    private func expectRefusedReload(from previous: PluginManifest, to broken: PluginManifest, because expected: String) async throws {
        let network = try await HostNetwork.start()
        let host = pluginHost(network)
        await host.apply([previous])
        let before = try #require(await host.instance(previous.id))
        let port = try await Self.servingPort(before)
        let runner = (before as? IsolatedPlugin)?.condition.pid

        await host.apply([broken])
        let after = try #require(await host.instance(previous.id))
        #expect(after === before && after.manifest == previous, "the running instance was not replaced")
        let status = try #require(await host.status.first)
        #expect(status.state == .running && status.version == "1.0.0", "\(status)")
        #expect(status.error?.contains("reload refused, still running the previous manifest: ") == true, "\(status.error ?? "no error")")
        #expect(status.error?.contains(expected) == true, "\(status.error ?? "no error")")
        if let isolated = after as? IsolatedPlugin {
            #expect(isolated.condition.pid == runner && isolated.condition.losses == 0, "\(isolated.condition)")
        }
        #expect(try await Self.servingPort(after) == port)
        #expect(try TCPLine.read(port: port) == "hi from \(Hex.encode(network.host.id.bytes))")

        // Refused again on the next reload, then cleared by a reload that succeeds.
        await host.apply([broken])
        #expect(await host.instance(previous.id) === before)
        let fixed = try HostNetwork.manifest(library: previous.library, config: "greeting = \"hello again\"", isolation: previous.isolation)
        await host.apply([fixed])
        let reloaded = try #require(await host.status.first)
        #expect(reloaded.state == .running && reloaded.error == nil, "\(reloaded)")
        let instance = try #require(await host.instance(previous.id))
        #expect(instance.manifest == fixed)
        #expect(try TCPLine.read(port: try await Self.servingPort(instance)) == "hello again from \(Hex.encode(network.host.id.bytes))")
        await host.stopAll()
        await network.stop()
    }

    /// The port hello-c listens on, from its health answer (which must be ok).
    private static func servingPort(_ plugin: any HostedPlugin) async throws -> UInt16 {
        let (health, detail) = try await plugin.health()
        #expect(health == CARRIER_HEALTH_OK, "\(detail)")
        return try #require(detail.hasPrefix("listening on port ") ? UInt16(detail.dropFirst("listening on port ".count)) : nil, "\(detail)")
    }
}
