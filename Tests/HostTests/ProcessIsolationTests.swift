import CarrierCore
import CarrierDHT
@testable import CarrierHost
import CarrierPluginABI
import Foundation
import TestSupport
import Testing

/// `isolation = "process"` when the plugin misbehaves: a crash kills only its runner, which is
/// restarted with backoff; a stuck call gets the runner killed; the host's DHT answers throughout.
/// (The examples under process isolation, and the refusals, are in `PluginHostTests`.)
@Suite(.serialized)
struct ProcessIsolationTests {
    /// Fast restarts for tests (100 ms, doubling to 400 ms, unless told otherwise); no crash
    /// backtraces (they take a second or more to print on a busy machine).
    private static func settings(firstRestart: Duration = .milliseconds(100), maximumRestart: Duration = .milliseconds(400),
                                 callLimit: Duration = .seconds(10)) -> RunnerSettings {
        var settings = RunnerSettings(executable: CarrierBinary.path)
        settings.firstRestartDelay = firstRestart
        settings.maximumRestartDelay = maximumRestart
        settings.callLimit = callLimit
        settings.crashBacktraces = false
        return settings
    }

    private static func isAlive(_ pid: Int32) -> Bool { kill(pid, 0) == 0 }

    @Test func restartsBackOffFromOneSecondToAMinute() {
        let settings = RunnerSettings(executable: "/bin/true")
        #expect((0..<9).map { settings.restartDelay(attempt: $0) } == [1, 2, 4, 8, 16, 32, 60, 60, 60].map { Duration.seconds($0) })
        #expect(settings.stableAfter == .seconds(300))
    }

    @Test func aCrashInStartKillsOnlyTheRunnerWhichIsRestartedWithBackoff() async throws {
        let network = try await HostNetwork.start()
        let manifest = try HostNetwork.manifest(library: try await CPlugins.conformance("crash_in_start"), id: "conformance.crash-in-start",
                                                isolation: .process)
        let settings = Self.settings(firstRestart: .milliseconds(300), maximumRestart: .milliseconds(1200))
        let host = PluginHost(environment: network.environment, runnerSettings: settings)
        await host.apply([manifest])
        let firstLoss = ContinuousClock.now
        let first = try #require(await host.status.first)
        #expect(first.state == .restarting && first.runnerLosses == 1, "\(first)")
        #expect(first.error?.contains("killed by signal 11") == true, "\(first.error ?? "")")
        let (health, detail) = try #require(try await host.instance(manifest.id)?.health())
        #expect(health == CARRIER_HEALTH_FAILING && detail.contains("restarted"), "\(detail)")

        // The third loss comes after waits of 300 and 600 ms; restarting at once would lose a
        // runner every few tens of milliseconds. The host's DHT answers all along.
        let node = try #require(await network.host.nodeInfo)
        // (How many pings fit in the ~900 ms depends on the machine's load; that most are answered,
        // and at least three, does not.)
        var answered = 0, missed = 0
        #expect(await eventually(within: .seconds(10)) {
            if await network.client.ping(node) { answered += 1 } else { missed += 1 }
            return await host.status.first?.runnerLosses == 3
        })
        #expect(ContinuousClock.now - firstLoss >= .milliseconds(900))
        #expect(answered >= 3 && answered > missed, "the host's DHT answers while the plugin crashes: \(answered) answered, \(missed) missed")

        let isolated = try #require(await host.instance(manifest.id) as? IsolatedPlugin)
        await host.stopAll()
        let lossesAtStop = isolated.condition.losses
        try await Task.sleep(for: .milliseconds(1500))
        #expect(isolated.condition.losses == lossesAtStop && isolated.condition.pid == nil, "no restart after the plugin was stopped")
        await network.stop()
    }

    @Test func aRunnerThatCrashesWhileRunningIsRestartedAndItsServiceReturns() async throws {
        let network = try await HostNetwork.start()
        let manifest = try HostNetwork.manifest(library: try await CPlugins.conformance("crash_after_start"), id: "conformance.crash-after-start",
                                                isolation: .process)
        let settings = Self.settings(firstRestart: .milliseconds(300), maximumRestart: .seconds(5))
        let host = PluginHost(environment: network.environment, runnerSettings: settings)
        await host.apply([manifest])
        let isolated = try #require(await host.instance(manifest.id) as? IsolatedPlugin)
        let firstPid = try #require(isolated.condition.pid)
        #expect(await host.status.first?.state == .running)
        #expect(network.environment.services.announced.map(\.type) == ["crashy"])

        // 1 s after start the plugin writes through NULL (time enough, on a loaded machine, to read
        // the runner's pid first): its runner dies, its offer is withdrawn.
        // From the moment it is dead, its health and status say so, with the loss counted (never
        // "running" on a dead runner, nor "lost 0 times; last: unknown"). Health is read first: a
        // runner dead then is dead when the status is read.
        var lost: PluginHost.Status?
        let deadline = ContinuousClock.now + .seconds(5)
        while lost == nil, ContinuousClock.now < deadline {
            let health = try? await isolated.health()
            let status = try #require(await host.status.first)
            if let detail = health?.1, detail.contains("restarted") {
                #expect(detail.contains("lost 1 times") && !detail.contains("unknown") && status.state == .restarting, "\(detail) \(status)")
            }
            if status.state != .running { lost = status }
            try await Task.sleep(for: .milliseconds(1))
        }
        let status = try #require(lost)
        #expect(status.state == .restarting && status.runnerLosses == 1 && status.error?.contains("unknown") == false, "\(status)")
        #expect(await eventually { isolated.condition.lastLoss?.contains("signal 11") == true }, "\(isolated.condition.lastLoss ?? "")")
        #expect(!Self.isAlive(firstPid), "the crashed runner was reaped")
        #expect(await eventually { network.environment.services.announced.isEmpty }, "a lost runner's services are withdrawn")
        #expect(await network.client.ping(try #require(await network.host.nodeInfo)))

        // 300 ms later a new runner starts the plugin again, which announces again. The status is
        // read the moment the new runner serves: 1 s later this plugin crashes again, so a status
        // read after further waits could already count a second loss.
        var serving: PluginHost.Status?
        #expect(await eventually {
            guard isolated.condition.running, isolated.condition.pid != firstPid,
                  network.environment.services.announced.map(\.type) == ["crashy"],
                  let now = await host.status.first, now.state == .running else { return false }
            serving = now
            return true
        })
        // Serving again: the old loss is counted, no longer reported as its error.
        let restarted = try #require(serving)
        #expect(restarted.runnerLosses >= 1 && restarted.error == nil, "\(restarted)")
        await host.stopAll()
        #expect(network.environment.services.announced.isEmpty)
        await network.stop()
    }

    @Test func aRunnerStuckInStartIsKilledWhileTheNodeKeepsServing() async throws {
        let network = try await HostNetwork.start()
        let manifest = try HostNetwork.manifest(library: try await CPlugins.conformance("hang_in_start"), id: "conformance.hang", isolation: .process)
        let settings = Self.settings(firstRestart: .seconds(30), maximumRestart: .seconds(60), callLimit: .milliseconds(600))
        let node = try #require(await network.host.nodeInfo)
        async let starting = IsolatedPlugin.start(manifest, environment: network.environment, settings: settings)
        try await Task.sleep(for: .milliseconds(200))
        #expect(await network.client.ping(node), "the DHT answers while the plugin is stuck in start")
        let isolated = try await starting
        let condition = isolated.condition
        #expect(!condition.running && condition.losses == 1 && condition.pid == nil, "\(condition)")
        #expect(condition.lastLoss?.contains("start did not return within 0.6 seconds; its runner was killed") == true, "\(condition.lastLoss ?? "")")
        #expect(await network.client.ping(node))
        try await isolated.stopAndDestroy()
        await network.stop()
    }

    @Test func periodicHealthChecksFindAPluginStuckWhileIdleAndRestartItsRunner() async throws {
        let network = try await HostNetwork.start()
        let settings = Self.settings(firstRestart: .seconds(30), maximumRestart: .seconds(60), callLimit: .milliseconds(500))
        let host = PluginHost(environment: network.environment, runnerSettings: settings)
        let stuck = try HostNetwork.manifest(library: try await CPlugins.conformance("hang_in_health"), id: "conformance.hang-in-health",
                                             isolation: .process)
        let hello = try HostNetwork.manifest(library: try await CPlugins.helloC(), config: "port = 0")
        await host.apply([stuck, hello])
        #expect(await host.status.map(\.state) == [.running, .running])
        await host.startHealthChecks(every: .milliseconds(200))
        let isolated = try #require(await host.instance(stuck.id) as? IsolatedPlugin)
        #expect(await eventually { isolated.condition.losses == 1 }, "the health check overran its limit and the runner was killed")
        #expect(await eventually { isolated.condition.lastLoss?.contains("health did not return within 0.5 seconds") == true },
                "\(isolated.condition.lastLoss ?? "")")
        #expect(await eventually { await host.healthReports[hello.id]?.health == CARRIER_HEALTH_OK })
        #expect(await eventually { await host.healthReports[stuck.id]?.health == CARRIER_HEALTH_FAILING })
        await host.stopAll()
        await network.stop()
    }
}
