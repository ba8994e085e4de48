import CarrierCore
import CarrierDHT
import CarrierHost
import CarrierShadow
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import TestSupport

/// Shadow against the direct path in the same run (rathole's method, scaled to this machine):
/// `iperf3` throughput through a tunnel (the release Shadow plugin in a plugin runner, a
/// `ShadowClient` in this process) and directly; the round trip of 1 KiB over one connection,
/// and the time to open a new connection and get its first byte back, through an echo server;
/// HTTP/1.1 latency under `h2load` at fixed rates and at the most this machine generates; and the
/// resident memory of the plugin runner with idle mappings and with 1,000 streams held open.
enum ShadowBenchmark {
    struct Figures {
        let tunnelBitsPerSecond: Double?
        let directBitsPerSecond: Double?
        /// The same through two `socat` processes that only copy (no crypto, 256 KiB buffers): the
        /// tunnel's three loopback hops and two relaying processes, as a ceiling for any relay here.
        let copyRelayBitsPerSecond: Double?
        let iperfNote: String?
        let roundTrip: (tunnel: (p50: Double, p99: Double), direct: (p50: Double, p99: Double))
        let firstByte: (tunnel: (p50: Double, p99: Double), direct: (p50: Double, p99: Double))
        /// The same through a client that keeps no spare data connections (each stream dials one).
        let firstByteWithoutSpares: (p50: Double, p99: Double)
        let cipher: String
        /// One row per offered rate, then one at no rate (as fast as h2load goes); empty when skipped.
        let http: [HTTPRow]
        let httpSkipped: BenchmarkSkipped?
        let memory: MemoryFigures?
        let memorySkipped: BenchmarkSkipped?
    }

    /// One `h2load` run.
    struct HTTPLoad {
        /// Requests answered per second over the measured period (as h2load reports it).
        let requestsPerSecond: Double
        /// Per-request latency (ms), from h2load's log of every request.
        let p50: Double
        let p99: Double
        /// Requests that failed, and answers that were not 200.
        let failed: Int
    }

    /// The same load through the tunnel and directly; `offered` nil: no rate limit.
    struct HTTPRow {
        let offered: Int?
        let tunnel: HTTPLoad
        let direct: HTTPLoad
    }

    /// Resident memory (VmRSS, KiB) of the plugin runner and of this process, which holds the
    /// ShadowClients and the echo server behind them.
    struct MemoryFigures {
        let runnerPID: Int32
        /// Once the plugin started, before any client connected.
        let noClient: (runner: Int, this: Int)
        /// Growth per client holding one idle mapping, `idleClients` of them connected at once.
        let perIdleMapping: (runner: Double, this: Double)
        let idleClients: Int
        /// With every idle client and every held stream open.
        let peak: (runner: Int, this: Int)
        /// Growth per stream, `heldStreams` of them open at once.
        let perStream: (runner: Double, this: Double)
        let heldStreams: Int
        /// Of those held, how many echoed a second byte once all were open.
        let stillEchoing: Int
        /// Streams asked for.
        let wantedStreams: Int
    }

    static let h2load = "/usr/bin/h2load"
    /// h2load's connections; each sends its share of the offered rate, one request at a time.
    static let httpConnections = 10
    static let httpRates = [100, 1_000, 2_000]
    static let httpSeconds = 3
    static let idleClients = 50
    static let heldStreams = 1_000

    static func run(seconds: Double) async throws -> Figures {
        let library = HostBenchmark.buildFolder.appendingPathComponent("libShadowPlugin.so").path
        guard FileManager.default.fileExists(atPath: library), FileManager.default.isExecutableFile(atPath: HostBenchmark.carrier) else {
            throw BenchmarkSkipped(reason: "build carrier and ShadowPlugin in release mode (make bench does)")
        }
        // Each held stream takes 4 descriptors here (the outside connection, the echo server's end,
        // the ShadowClient's data and local connections) and 2 in the runner, which inherits this limit.
        let descriptors = FileDescriptorLimit.raiseToHard()
        let scratch = NSTemporaryDirectory() + "carrier-shadow-bench-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let (node, environment) = try await HostBenchmark.supernode(in: scratch)
        // Public ports low...low+99 (3 mappings of the main client and one per idle client), then
        // the tunnel port, iperf3's, and the two socat relays'.
        let low = Int.random(in: 20_000...30_000)
        let tunnelPort = low + 100, iperfPort = low + 101
        let manifest = try PluginManifest.parse("""
            id = "org.carrier.shadow"
            version = "0.1.0"
            library = "\(library)"
            isolation = "process"
            sha256 = "\(PluginLibrary.sha256(ofFile: library)!)"
            [config]
            host = "127.0.0.1"
            port = \(tunnelPort)
            publicPorts = "\(low)-\(low + 99)"
            streamsPerClient = \(heldStreams + 100)
            streamsPerMapping = \(heldStreams + 100)
            connectionsPerSourcePerMinute = 100000
            """, file: "/bench/shadow.toml")
        let host = PluginHost(environment: environment, runnerSettings: RunnerSettings(executable: HostBenchmark.carrier))
        await host.apply([manifest])
        defer { Task { await host.stopAll(); await node.stop() } }
        let runner = (await host.instance(manifest.id) as? IsolatedPlugin)?.condition.pid
        try await Task.sleep(for: .milliseconds(500))
        let noClient = runner.flatMap(resident(runner:))
        let supernode = ShadowSupernode(id: node.id, host: "127.0.0.1", port: tunnelPort)
        let group = MultiThreadedEventLoopGroup.singleton

        // iperf3 (Debian's), the echo server and the HTTP server, each exposed as one mapping.
        let echo = try await TCPEchoServer(group: group)
        let web = try await FixedHTTPServer(group: group)
        let iperfServer = try? ChildProcess.start("/usr/bin/iperf3", ["-s", "-p", "\(iperfPort)"])
        let client = ShadowClient(identity: KeyPair.random(), supernode: supernode, services: [
            ShadowService(name: "echo", targetHost: "127.0.0.1", targetPort: echo.port),
            ShadowService(name: "iperf", targetHost: "127.0.0.1", targetPort: iperfPort),
            ShadowService(name: "web", targetHost: "127.0.0.1", targetPort: web.port),
        ], group: group, spares: 2)
        let exposed = Exposed()
        let running = Task { await client.run { if case .exposed(let endpoints) = $0 { exposed.set(endpoints) } } }
        defer { running.cancel(); iperfServer?.stop() }
        guard let endpoints = try await exposed.wait(), let echoPort = endpoints.first(where: { $0.name == "echo" })?.port,
              let iperfPublic = endpoints.first(where: { $0.name == "iperf" })?.port,
              let webPublic = endpoints.first(where: { $0.name == "web" })?.port else {
            throw BenchmarkSkipped(reason: "the client was not exposed")
        }

        // Memory first, before iperf3's large frames have grown the heaps.
        var memory: MemoryFigures?, memorySkipped: BenchmarkSkipped?
        do {
            guard let runner, let noClient else { throw BenchmarkSkipped(reason: "the plugin runner's pid or VmRSS is unknown") }
            guard descriptors >= heldStreams * 4 + 500 else {
                throw BenchmarkSkipped(reason: "RLIMIT_NOFILE is \(descriptors), \(heldStreams) streams need \(heldStreams * 4 + 500)")
            }
            memory = try await memoryFigures(runner: runner, noClient: noClient, supernode: supernode, group: group, echo: echo,
                                             echoPublic: Int(echoPort))
        } catch let skipped as BenchmarkSkipped {
            memorySkipped = skipped
        }

        var tunnelBits: Double?, directBits: Double?, copyRelayBits: Double?, note: String?
        if iperfServer != nil {
            try await Task.sleep(for: .milliseconds(300))
            let duration = max(2, Int(seconds))
            tunnelBits = try await iperf(port: Int(iperfPublic), seconds: duration)
            directBits = try await iperf(port: iperfPort, seconds: duration)
            copyRelayBits = try await copyRelay(to: iperfPort, through: [low + 102, low + 103], seconds: duration)
        } else {
            note = "iperf3 not installed (make bench installs it)"
        }
        let tunnelTrip = try await roundTrips(port: Int(echoPort)), directTrip = try await roundTrips(port: echo.port)
        let tunnelFirst = try await firstBytes(port: Int(echoPort)), directFirst = try await firstBytes(port: echo.port)
        let bare = ShadowClient(identity: KeyPair.random(), supernode: supernode,
                                services: [ShadowService(name: "echo", targetHost: "127.0.0.1", targetPort: echo.port)], group: group, spares: 0)
        let bareExposed = Exposed()
        let bareRunning = Task { await bare.run { if case .exposed(let endpoints) = $0 { bareExposed.set(endpoints) } } }
        guard let barePort = try await bareExposed.wait()?.first?.port else { throw BenchmarkSkipped(reason: "the client without spares was not exposed") }
        let withoutSpares = try await firstBytes(port: Int(barePort))
        bareRunning.cancel()
        _ = await bareRunning.value

        var http: [HTTPRow] = [], httpSkipped: BenchmarkSkipped?
        do {
            guard FileManager.default.isExecutableFile(atPath: h2load) else { throw BenchmarkSkipped(reason: "h2load not installed (Debian's nghttp2-client; make bench installs it)") }
            for rate in httpRates.map(Optional.some) + [nil] {
                let tunnel = try await load(port: Int(webPublic), rate: rate, scratch: scratch)
                let direct = try await load(port: web.port, rate: rate, scratch: scratch)
                http.append(HTTPRow(offered: rate, tunnel: tunnel, direct: direct))
            }
        } catch let skipped as BenchmarkSkipped {
            httpSkipped = skipped
        }
        await echo.close()
        await web.close()
        return Figures(tunnelBitsPerSecond: tunnelBits, directBitsPerSecond: directBits, copyRelayBitsPerSecond: copyRelayBits, iperfNote: note,
                       roundTrip: (tunnelTrip, directTrip), firstByte: (tunnelFirst, directFirst), firstByteWithoutSpares: withoutSpares,
                       cipher: ShadowCipher.localOffer & ShadowCipher.aes256GCM.rawValue != 0 ? "AES-256-GCM" : "ChaCha20-Poly1305",
                       http: http, httpSkipped: httpSkipped, memory: memory, memorySkipped: memorySkipped)
    }

    /// Receiver's bits per second of an `iperf3 -c` run to 127.0.0.1:`port`.
    private static func iperf(port: Int, seconds: Int) async throws -> Double? {
        let outcome = try await ChildProcess.run("/usr/bin/iperf3", ["-c", "127.0.0.1", "-p", "\(port)", "-t", "\(seconds)", "-J"])
        guard let json = try? JSONSerialization.jsonObject(with: Data(outcome.stdout.utf8)) as? [String: Any],
              let end = json["end"] as? [String: Any], let received = end["sum_received"] as? [String: Any] else { return nil }
        return received["bits_per_second"] as? Double
    }

    /// iperf3 through `socat` relays on `ports` chained to 127.0.0.1:`port`; nil without socat.
    private static func copyRelay(to port: Int, through ports: [Int], seconds: Int) async throws -> Double? {
        let socat = "/usr/bin/socat"
        guard FileManager.default.isExecutableFile(atPath: socat) else { return nil }
        var relays: [ChildProcess] = []
        defer { relays.forEach { $0.stop() } }
        for (index, listen) in ports.enumerated() {
            let next = index + 1 < ports.count ? ports[index + 1] : port
            relays.append(try ChildProcess.start(socat, ["-b", "262144", "TCP-LISTEN:\(listen),bind=127.0.0.1,fork,reuseaddr",
                                                         "TCP:127.0.0.1:\(next)"]))
        }
        try await Task.sleep(for: .milliseconds(300))
        return try await iperf(port: ports[0], seconds: seconds)
    }

    /// p50 and p99 (ms) of 2,000 round trips of 1 KiB over one connection.
    private static func roundTrips(port: Int) async throws -> (p50: Double, p99: Double) {
        let connection = try RawTCPClient(port: port)
        defer { connection.close() }
        let payload = [UInt8](repeating: 0x61, count: 1024)
        var samples: [Double] = []
        for _ in 0..<2000 {
            let started = ContinuousClock.now
            try connection.send(payload)
            _ = try await connection.read(timeout: 5) { $0.count >= payload.count }
            samples.append(Measurement.milliseconds(ContinuousClock.now - started))
        }
        return percentiles(samples)
    }

    /// p50 and p99 (ms) of 200 new connections, each until its first byte came back.
    private static func firstBytes(port: Int) async throws -> (p50: Double, p99: Double) {
        var samples: [Double] = []
        for _ in 0..<200 {
            let started = ContinuousClock.now
            let connection = try RawTCPClient(port: port)
            try connection.send([0x61])
            _ = try await connection.read(timeout: 5) { !$0.isEmpty }
            samples.append(Measurement.milliseconds(ContinuousClock.now - started))
            connection.close()
        }
        return percentiles(samples)
    }

    // MARK: HTTP latency

    /// `h2load` over HTTP/1.1 to 127.0.0.1:`port` for `httpSeconds` after a second of warm-up,
    /// its connections sending `rate` requests/s between them (nil: each as fast as it can). Its
    /// summary has no percentiles, so they come from its log: one line per request, the third
    /// column the µs until the end of the answer.
    private static func load(port: Int, rate: Int?, scratch: String) async throws -> HTTPLoad {
        let log = "\(scratch)/h2load-\(UUID().uuidString).log"  // h2load appends to an existing log
        var arguments = ["--h1", "-c", "\(httpConnections)", "-D", "\(httpSeconds)", "--warm-up-time=1", "--log-file=\(log)"]
        if let rate { arguments.append("--rps=\(rate / httpConnections)") }
        let outcome = try await ChildProcess.run(h2load, arguments + ["http://127.0.0.1:\(port)/"])
        let rows = ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").map { $0.split(separator: "\t") }
        let latencies = rows.filter { $0.count >= 3 && $0[1] == "200" }.compactMap { Double($0[2]).map { $0 / 1000 } }
        // "finished in 4.00s, 100.00 req/s, ..." and "requests: ... 300 succeeded, 0 failed, ...".
        func number(before suffix: String) -> Double? {
            guard let range = outcome.stdout.range(of: suffix) else { return nil }
            return Double(outcome.stdout[..<range.lowerBound].split(whereSeparator: { $0 == " " || $0 == "," }).last ?? "")
        }
        guard !latencies.isEmpty, let achieved = number(before: " req/s"), let failed = number(before: " failed") else {
            throw BenchmarkSkipped(reason: "h2load answered nothing on port \(port): \(outcome.stdout.suffix(300)) \(outcome.stderr.suffix(300))")
        }
        let (p50, p99) = percentiles(latencies)
        return HTTPLoad(requestsPerSecond: achieved, p50: p50, p99: p99, failed: Int(failed) + rows.count - latencies.count)
    }

    // MARK: Memory

    /// The runner's and this process's VmRSS: with no client (`noClient`, measured before the main
    /// client connected); with `idleClients` more clients of one idle mapping each (their growth
    /// is measured from one client connected, so the first client's one-time costs, such as its
    /// threads' stacks, are not counted); and with `heldStreams` connections to the echo mapping
    /// at `echoPublic`, each sent a byte that came back, all held open, then each checked again.
    private static func memoryFigures(runner: Int32, noClient: (runner: Int, this: Int), supernode: ShadowSupernode, group: EventLoopGroup,
                                      echo: TCPEchoServer, echoPublic: Int) async throws -> MemoryFigures {
        func resident() throws -> (runner: Int, this: Int) {
            guard let figures = self.resident(runner: runner) else { throw BenchmarkSkipped(reason: "the plugin runner (pid \(runner)) has ended") }
            return figures
        }
        func growth(_ from: (runner: Int, this: Int), _ to: (runner: Int, this: Int), per count: Int) -> (runner: Double, this: Double) {
            (Double(to.runner - from.runner) / Double(max(count, 1)), Double(to.this - from.this) / Double(max(count, 1)))
        }
        try await Task.sleep(for: .milliseconds(500))
        let oneClient = try resident()

        let idle = (0..<idleClients).map { _ in
            ShadowClient(identity: KeyPair.random(), supernode: supernode,
                         services: [ShadowService(name: "idle", targetHost: "127.0.0.1", targetPort: echo.port)], group: group, spares: 2)
        }
        let exposed = idle.map { _ in Exposed() }
        let sessions = zip(idle, exposed).map { client, seen in
            Task { await client.run { if case .exposed(let endpoints) = $0 { seen.set(endpoints) } } }
        }
        defer { sessions.forEach { $0.cancel() } }
        for seen in exposed {
            guard try await seen.wait(within: .seconds(20)) != nil else {
                throw BenchmarkSkipped(reason: "not every one of the \(idleClients) idle clients was exposed")
            }
        }
        try await Task.sleep(for: .seconds(1))
        let idleResident = try resident()

        let held = try await holdStreams(heldStreams, port: echoPublic)
        try await Task.sleep(for: .seconds(1))
        let peak = try resident()
        let stillEchoing = try await echoAgain(held)
        held.forEach { $0.close() }
        return MemoryFigures(runnerPID: runner, noClient: noClient, perIdleMapping: growth(oneClient, idleResident, per: idleClients),
                             idleClients: idleClients, peak: peak, perStream: growth(idleResident, peak, per: held.count),
                             heldStreams: held.count, stillEchoing: stillEchoing, wantedStreams: heldStreams)
    }

    /// VmRSS (KiB) of the plugin runner `runner` and of this process; nil once the runner has ended.
    private static func resident(runner: Int32) -> (runner: Int, this: Int)? {
        guard let theirs = Measurement.residentKiB(of: "\(runner)"), let ours = Measurement.residentKiB() else { return nil }
        return (theirs, ours)
    }

    /// Opens up to `count` connections to 127.0.0.1:`port` (in batches of 100, under the public
    /// port's listen backlog of 256), each sent one byte: those whose byte came back, still open.
    /// Stops at the first that does not echo.
    private static func holdStreams(_ count: Int, port: Int) async throws -> [RawTCPClient] {
        var held: [RawTCPClient] = []
        while held.count < count {
            let batch = try (0..<min(100, count - held.count)).map { _ in try RawTCPClient(port: port) }
            for connection in batch { try connection.send([0x61]) }
            for connection in batch {
                guard try await connection.read(timeout: 5, until: { !$0.isEmpty }).bytes == [0x61] else { return held }
                held.append(connection)
            }
        }
        return held
    }

    /// How many of `connections` echo one more byte, sent to all of them before any is read.
    private static func echoAgain(_ connections: [RawTCPClient]) async throws -> Int {
        let sent = connections.filter { (try? $0.send([0x62])) != nil }
        var echoed = 0
        for connection in sent {
            if try await connection.read(timeout: 5, until: { !$0.isEmpty }).bytes == [0x62] { echoed += 1 }
        }
        return echoed
    }

    private static func percentiles(_ samples: [Double]) -> (p50: Double, p99: Double) {
        let sorted = samples.sorted()
        return (sorted[sorted.count / 2], sorted[min(sorted.count - 1, sorted.count * 99 / 100)])
    }

    /// The endpoints of a client's last `exposed` event.
    private final class Exposed: @unchecked Sendable {
        // @unchecked: guarded by `lock`.
        private let lock = NSLock()
        private var latest: [PublicEndpoint]?
        func set(_ endpoints: [PublicEndpoint]) { lock.withLock { latest = endpoints } }
        var endpoints: [PublicEndpoint]? { lock.withLock { latest } }

        /// The endpoints once the client was exposed, or nil if it was not within `limit`.
        func wait(within limit: Duration = .seconds(10)) async throws -> [PublicEndpoint]? {
            let deadline = ContinuousClock.now + limit
            while endpoints == nil, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
            return endpoints
        }
    }
}

/// The service behind the tunnel in the HTTP runs (nginx's role in rathole's): HTTP/1.1 on
/// 127.0.0.1 with keep-alive, answering every request with the same small body, in one flush.
final class FixedHTTPServer: Sendable {
    static let body = "hello from carrier-bench\n"
    let port: Int
    private let channel: Channel

    init(group: EventLoopGroup) async throws {
        channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 256)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(Responder())
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        port = channel.localAddress!.port!
    }

    func close() async { try? await channel.close() }

    /// Answers each request once it has been read to its end.
    private final class Responder: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard case .end = unwrapInboundIn(data) else { return }
            let headers = HTTPHeaders([("content-type", "text/plain"), ("content-length", "\(FixedHTTPServer.body.utf8.count)")])
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: FixedHTTPServer.body)))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }
    }
}

/// A benchmark that could not run here, and why.
struct BenchmarkSkipped: Error, CustomStringConvertible {
    let reason: String
    var description: String { "not measured: \(reason)" }
}
