import CarrierCore
@testable import CarrierHost
@testable import CarrierShadow
import Foundation
import NIOCore
import TestSupport
import Testing

/// Shadow's limits on a running supernode (docs/shadow.md, "Limits"): which sources a public
/// port admits and how fast, its cap on connections, byte rates per client and per mapping, and
/// idle and total durations. Outside clients take other loopback addresses (127.0.0.x) as their
/// sources.
@Suite(.serialized)
struct ShadowLimitsTests {
    typealias Supernode = ShadowRelayTests.Supernode
    static let group = ShadowRelayTests.group

    /// Whether a connection from `source` to `port` is served (its bytes come back) or closed at once.
    private static func served(_ port: Int, from source: String) async throws -> Bool {
        let connection = try RawTCPClient(port: port, source: source)
        defer { connection.close() }
        try? connection.send("hello")
        let answer = try await connection.read(timeout: 5) { $0.count >= 5 }
        return answer.bytes == Array("hello".utf8)
    }

    @Test func publicPortsAdmitOnlyTheirSourcesAtTheirRateAndUpToTheirCap() async throws {
        let config = "denySources = \"127.0.0.9\"\nconnectionsPerSourcePerMinute = 8\nstreamsPerMapping = 3\n"
        try await Supernode.with(config: config) { node in
            let echo = try await TCPEchoServer(group: Self.group)
            var office = ShadowService(name: "office", targetHost: "127.0.0.1", targetPort: echo.port)
            office.allow = [try SourceRange("127.0.0.0/30")]
            office.deny = [try SourceRange("127.0.0.2")]
            let open = ShadowService(name: "open", targetHost: "127.0.0.1", targetPort: echo.port)
            let client = ShadowClient(identity: KeyPair.random(), supernode: node.supernode, services: [office, open], group: Self.group)
            let (endpoints, _, running) = try await ShadowRelayTests.expose(client)
            let officePort = Int(try #require(endpoints.first { $0.name == "office" }?.port))
            let openPort = Int(try #require(endpoints.first { $0.name == "open" }?.port))

            // The mapping's lists, then the operator's: refused before they reach the client.
            #expect(try await Self.served(officePort, from: "127.0.0.1"))
            #expect(try await !Self.served(officePort, from: "127.0.0.2"), "denied by the mapping")
            #expect(try await !Self.served(officePort, from: "127.0.0.5"), "outside the mapping's allowlist")
            #expect(try await !Self.served(openPort, from: "127.0.0.9"), "denied by the operator")
            #expect(try await Self.served(openPort, from: "127.0.0.5"), "the open mapping admits it")
            #expect(node.counter("refused_source") == 3)
            #expect(client.statistics.streams == 2, "refused connections never reached the client")

            // 8 a minute, 2 at once: a source's third connection in a row is refused; another
            // source is not affected. (The cap is 3, so one connection still closing on the
            // supernode when the next arrives does not matter.)
            #expect(try await Self.served(openPort, from: "127.0.0.6"))
            #expect(try await Self.served(openPort, from: "127.0.0.6"))
            #expect(try await !Self.served(openPort, from: "127.0.0.6"), "over the source's rate")
            #expect(node.counter("refused_rate") == 1)
            #expect(try await Self.served(openPort, from: "127.0.0.7"))

            // Three open at once on one mapping: a fourth is refused there, but not on the other mapping.
            #expect(await eventually { client.statistics.openStreams == 0 })
            let held = try ["127.0.0.10", "127.0.0.11", "127.0.0.13"].map { try RawTCPClient(port: openPort, source: $0) }
            for connection in held {
                try connection.send("x")
                #expect(try await connection.read(timeout: 5) { !$0.isEmpty }.bytes == Array("x".utf8))
            }
            #expect(try await !Self.served(openPort, from: "127.0.0.12"), "over the mapping's cap")
            #expect(node.counter("refused_streams") == 1)
            #expect(try await Self.served(officePort, from: "127.0.0.3"), "the other mapping has room")
            held.forEach { $0.close() }
            running.cancel()
            _ = await running.value
            await echo.close()
        }
    }

    @Test func aUDPMappingDropsDatagramsFromSourcesItDenies() async throws {
        try await Supernode.with { node in
            let dns = try await UDPEchoServer(group: Self.group)
            var service = ShadowService(name: "dns", transport: .udp, targetHost: "127.0.0.1", targetPort: dns.port)
            service.deny = [try SourceRange("127.0.0.1")]
            let client = ShadowClient(identity: KeyPair.random(), supernode: node.supernode, services: [service], group: Self.group)
            let (endpoints, _, running) = try await ShadowRelayTests.expose(client)
            let asker = try await UDPQuerier(port: Int(try #require(endpoints.first?.port)), group: Self.group)
            for _ in 0..<5 { asker.send(Array("probe".utf8)) }
            #expect(await eventually { node.counter("udp_refused_source") == 5 })
            #expect(asker.received.isEmpty && dns.sources.isEmpty)
            await asker.close()
            running.cancel()
            _ = await running.value
            await dns.close()
        }
    }

    @Test func aUDPMappingDropsWhatGoesOverItsByteRate() async throws {
        let rate = 100_000.0, burst = 65_536.0
        try await Supernode.with(config: "bytesPerSecondPerMapping = \(Int(rate))\n") { node in
            let dns = try await UDPEchoServer(group: Self.group)
            let client = ShadowClient(identity: KeyPair.random(), supernode: node.supernode, services: [
                ShadowService(name: "dns", transport: .udp, targetHost: "127.0.0.1", targetPort: dns.port)], group: Self.group)
            let (endpoints, _, running) = try await ShadowRelayTests.expose(client)
            let asker = try await UDPQuerier(port: Int(try #require(endpoints.first?.port)), group: Self.group)
            #expect(await eventually(within: .seconds(10)) {
                if asker.received.isEmpty { asker.send(Array("probe".utf8)) }
                return !asker.received.isEmpty
            })
            try await Task.sleep(for: .seconds(1))  // the budget refills
            let before = asker.received.count
            // 300 queries of 1,000 bytes at once, 2,007 bytes each with its answer: far over the
            // burst. About 32 are answered (queries may spend only half the burst; the other half
            // is kept for their answers), the rest dropped and counted, and what got through
            // stays within the burst and the rate over the time it took.
            let started = ContinuousClock.now
            for _ in 0..<300 { asker.send(Array(repeating: 0x61, count: 1_000)) }
            try await Task.sleep(for: .milliseconds(500))
            let elapsed = ContinuousClock.now - started
            let answered = asker.received.count - before
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            print("ShadowLimitsTests: \(answered) of 300 UDP queries answered in \(seconds) s")
            #expect(answered >= 16 && answered < 300, "\(answered) answered")
            #expect(node.counter("udp_over_bandwidth") > 0)
            #expect(Double(answered * 2_007) <= (burst + rate * seconds) * 1.1 + 2_007, "\(answered) answered in \(seconds) s")
            await asker.close()
            running.cancel()
            _ = await running.value
            await dns.close()
        }
    }

    /// Echoes `size` random bytes through `port`; returns the seconds it took (the bytes must come back).
    private static func timedEcho(_ port: Int, size: Int) async throws -> Double {
        let payload = Sodium.randomBytes(size)
        let started = ContinuousClock.now
        let back = try await TCPExchange.run(port: port, payload: payload, group: Self.group)
        let elapsed = ContinuousClock.now - started
        #expect(back.count == payload.count && back == payload, "\(back.count) of \(payload.count) bytes")
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }

    @Test func byteRatesPerMappingAndPerClientAreNotExceededByMoreThanTenPercent() async throws {
        let mappingRate = 1_000_000.0, clientRate = 1_500_000.0
        let config = "bytesPerSecondPerMapping = \(Int(mappingRate))\nbytesPerSecondPerClient = \(Int(clientRate))\n"
        try await Supernode.with(config: config) { node in
            let echo = try await TCPEchoServer(group: Self.group)
            let services = ["a", "b"].map { ShadowService(name: $0, targetHost: "127.0.0.1", targetPort: echo.port) }
            let client = ShadowClient(identity: KeyPair.random(), supernode: node.supernode, services: services, group: Self.group)
            let (endpoints, _, running) = try await ShadowRelayTests.expose(client)
            let ports = try ["a", "b"].map { name in Int(try #require(endpoints.first { $0.name == name }).port) }
            // Both directions count, and a full budget lets its burst (a quarter second's worth)
            // through at once: `size` bytes echoed take (2 * size - burst) / rate. Each connection
            // may also pass two buffers (64 KiB each) unmetered by time: its first read (SwiftNIO
            // reads once as reading turns on; a spare data connection has a read armed already)
            // and a last one whose debt is never waited for.
            let size = 2_000_000
            func allowance(connections: Int) -> Double { Double(connections * 2 * 65_536) }

            // One stream on one mapping: the mapping's rate binds.
            // The cap holds within 10 % (never faster); slower than it only by the relay's own
            // pace (loose, as the machine may be loaded).
            let one = try await Self.timedEcho(ports[0], size: size)
            let expectedOne = (2 * Double(size) - mappingRate / 4) / mappingRate
            let fastestOne = (2 * Double(size) - mappingRate / 4 - allowance(connections: 2)) / mappingRate
            #expect(one >= fastestOne * 0.9 && one <= expectedOne * 1.5, "one mapping: \(one) s, expected \(expectedOne) s")

            // Both mappings at once: the client's rate binds (each mapping alone would allow more).
            // If the two do not share it evenly, the one left last runs at its mapping's rate,
            // which takes longer: hence the loose upper bound.
            // The budgets start full again once they have been idle for their burst's time.
            try await Task.sleep(for: .seconds(1))
            async let first = Self.timedEcho(ports[0], size: size)
            async let second = Self.timedEcho(ports[1], size: size)
            let both = max(try await first, try await second)
            let expectedBoth = (4 * Double(size) - clientRate / 4) / clientRate
            let fastestBoth = (4 * Double(size) - clientRate / 4 - allowance(connections: 4)) / clientRate
            #expect(both >= fastestBoth * 0.9 && both <= expectedBoth * 1.5, "two mappings: \(both) s, expected \(expectedBoth) s")
            print("ShadowLimitsTests: one mapping \(one) s (expected \(expectedOne)), two \(both) s (expected \(expectedBoth))")
            running.cancel()
            _ = await running.value
            await echo.close()
        }
    }

    @Test func idleAndLongPublicConnectionsAreClosedAtTheirLimits() async throws {
        try await Supernode.with(config: "idleSeconds = 1\nstreamSeconds = 3\n") { node in
            let echo = try await TCPEchoServer(group: Self.group)
            let client = ShadowClient(identity: KeyPair.random(), supernode: node.supernode,
                                      services: [ShadowService(name: "echo", targetHost: "127.0.0.1", targetPort: echo.port)], group: Self.group)
            let (endpoints, _, running) = try await ShadowRelayTests.expose(client)
            let port = Int(try #require(endpoints.first?.port))

            // Silent after one echo: closed once a second has passed with no byte either way.
            let quiet = try RawTCPClient(port: port)
            try quiet.send("a")
            #expect(try await quiet.read(timeout: 5) { !$0.isEmpty }.bytes == Array("a".utf8))
            let silentSince = ContinuousClock.now
            #expect(try await quiet.drain(timeout: 10).ended)
            let silent = ContinuousClock.now - silentSince
            #expect(silent >= .milliseconds(900) && silent < .seconds(6), "closed after \(silent) of silence")
            #expect(node.counter("closed_idle") == 1)

            // Busy (a byte every 200 ms), but open for its 3 seconds: closed then.
            let busy = try RawTCPClient(port: port)
            let opened = ContinuousClock.now
            let sending = Task {
                while (try? busy.send("b")) != nil && ContinuousClock.now - opened < .seconds(10) {
                    try await Task.sleep(for: .milliseconds(200))
                }
            }
            let ended = Task { try await busy.drain(timeout: 15) }
            let outcome = try await ended.value
            let lasted = ContinuousClock.now - opened
            sending.cancel()
            #expect(outcome.ended && !outcome.bytes.isEmpty, "echoed while it lasted")
            #expect(lasted >= .milliseconds(2900) && lasted < .seconds(8), "closed after \(lasted)")
            #expect(node.counter("closed_duration") == 1 && node.counter("closed_idle") == 1)
            busy.close()
            quiet.close()
            running.cancel()
            _ = await running.value
            await echo.close()
        }
    }

    /// Limits per billing plan: `[config.plans.pro]` over the top-level ones for clients the
    /// operator put on `pro` (`client_plan`, through a plugin runner too); a client on a plan
    /// without limits of its own gets the top-level ones.
    @Test(arguments: PluginHostTests.isolations)
    func eachBillingPlanHasTheLimitsItsManifestGivesIt(isolation: PluginManifest.Isolation) async throws {
        let config = """
            mappingsPerClient = 1
            [config.plans.pro]
            mappingsPerClient = 2
            streamsPerMapping = 1
            [billing]
            default_plan = "basic"
            [billing.plans.basic]
            period = "30d"
            [billing.plans.pro]
            period = "30d"
            [billing.plans.team]
            period = "30d"
            """
        try await Supernode.with(isolation: isolation, config: config) { node in
            let echo = try await TCPEchoServer(group: Self.group)
            let services = ["web", "api"].map { ShadowService(name: $0, targetHost: "127.0.0.1", targetPort: echo.port) }
            let alice = KeyPair.random(), bob = KeyPair.random()
            let billing = node.network.environment.billing
            #expect(await ShadowClient(identity: alice, supernode: node.supernode, services: services, group: Self.group).run()
                    == .refused("at most 1 mappings per client on plan basic"))

            try billing.ledger.setPlan(bob.publicKey, plan: "team", at: 0)
            try billing.ledger.setPlan(alice.publicKey, plan: "pro", at: 0)
            try billing.flush()
            #expect(await ShadowClient(identity: bob, supernode: node.supernode, services: services, group: Self.group).run()
                    == .refused("at most 1 mappings per client on plan team"), "team has no limits of its own")
            let client = ShadowClient(identity: alice, supernode: node.supernode, services: services, group: Self.group)
            let (endpoints, _, running) = try await ShadowRelayTests.expose(client)
            #expect(endpoints.count == 2, "pro holds two mappings")

            // Pro's cap of one connection per mapping: a second one at once is refused.
            let port = Int(try #require(endpoints.first { $0.name == "web" }?.port))
            let held = try RawTCPClient(port: port)
            try held.send("x")
            #expect(try await held.read(timeout: 5) { !$0.isEmpty }.bytes == Array("x".utf8))
            #expect(try await !Self.served(port, from: "127.0.0.2"), "over pro's cap of 1")
            #expect(await eventually { node.counter("refused_streams") == 1 }, "a runner's counters reach the host a moment later")
            held.close()
            running.cancel()
            _ = await running.value
            await echo.close()
        }
    }

    @Test func aPlanWithAnUnknownLimitStopsThePluginFromStarting() async throws {
        let network = try await HostNetwork.start()
        let manifest = try HostNetwork.manifest(library: try CPlugins.shadow(), id: "org.carrier.shadow",
                                                config: "port = 0\n[config.plans.pro]\nbandwidth = 5\n")
        let host = PluginHost(environment: network.environment)
        await host.apply([manifest])
        let status = try #require(await host.status.first)
        #expect(status.state == .failed)
        #expect(status.error?.contains("config.plans.pro.bandwidth: unknown limit (a plan sets mappingsPerClient,") == true, "\(status)")
        await host.stopAll()
        await network.stop()
    }
}
