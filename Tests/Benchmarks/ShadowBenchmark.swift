import CarrierCore
import CarrierDHT
import CarrierHost
import CarrierShadow
import Foundation
import NIOPosix
import TestSupport

/// Shadow against the direct path in the same run (rathole's method, scaled to this machine):
/// `iperf3` throughput through a tunnel (the release Shadow plugin in a plugin runner, a
/// `ShadowClient` in this process) and directly; the round trip of 1 KiB over one connection,
/// and the time to open a new connection and get its first byte back, through an echo server.
enum ShadowBenchmark {
    struct Figures {
        let tunnelBitsPerSecond: Double?
        let directBitsPerSecond: Double?
        let iperfNote: String?
        let roundTrip: (tunnel: (p50: Double, p99: Double), direct: (p50: Double, p99: Double))
        let firstByte: (tunnel: (p50: Double, p99: Double), direct: (p50: Double, p99: Double))
        let cipher: String
    }

    static func run(seconds: Double) async throws -> Figures {
        let library = HostBenchmark.buildFolder.appendingPathComponent("libShadowPlugin.so").path
        guard FileManager.default.fileExists(atPath: library), FileManager.default.isExecutableFile(atPath: HostBenchmark.carrier) else {
            throw BenchmarkSkipped(reason: "build carrier and ShadowPlugin in release mode (make bench does)")
        }
        let scratch = NSTemporaryDirectory() + "carrier-shadow-bench-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let (node, environment) = try await HostBenchmark.supernode(in: scratch)
        let low = Int.random(in: 20_000...30_000)
        let manifest = try PluginManifest.parse("""
            id = "org.carrier.shadow"
            version = "0.1.0"
            library = "\(library)"
            isolation = "process"
            sha256 = "\(PluginLibrary.sha256(ofFile: library)!)"
            [config]
            host = "127.0.0.1"
            port = \(low + 25)
            publicPorts = "\(low)-\(low + 20)"
            """, file: "/bench/shadow.toml")
        let host = PluginHost(environment: environment, runnerSettings: RunnerSettings(executable: HostBenchmark.carrier))
        await host.apply([manifest])
        defer { Task { await host.stopAll(); await node.stop() } }
        let supernode = ShadowSupernode(id: node.id, host: "127.0.0.1", port: low + 25)
        let group = MultiThreadedEventLoopGroup.singleton

        // iperf3 (Debian's), exposed as one mapping; the echo server as another.
        let echo = try await TCPEchoServer(group: group)
        let iperfPort = low + 22
        let iperfServer = try? ChildProcess.start("/usr/bin/iperf3", ["-s", "-p", "\(iperfPort)"])
        let client = ShadowClient(identity: KeyPair.random(), supernode: supernode, services: [
            ShadowService(name: "echo", targetHost: "127.0.0.1", targetPort: echo.port),
            ShadowService(name: "iperf", targetHost: "127.0.0.1", targetPort: iperfPort),
        ], group: group)
        let exposed = Exposed()
        let running = Task { await client.run { if case .exposed(let endpoints) = $0 { exposed.set(endpoints) } } }
        defer { running.cancel(); iperfServer?.stop() }
        let deadline = ContinuousClock.now + .seconds(10)
        while exposed.endpoints == nil, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        guard let endpoints = exposed.endpoints, let echoPort = endpoints.first(where: { $0.name == "echo" })?.port,
              let iperfPublic = endpoints.first(where: { $0.name == "iperf" })?.port else {
            throw BenchmarkSkipped(reason: "the client was not exposed")
        }

        var tunnelBits: Double?, directBits: Double?, note: String?
        if iperfServer != nil {
            try await Task.sleep(for: .milliseconds(300))
            let duration = max(2, Int(seconds))
            tunnelBits = try await iperf(port: Int(iperfPublic), seconds: duration)
            directBits = try await iperf(port: iperfPort, seconds: duration)
        } else {
            note = "iperf3 not installed (make bench installs it)"
        }
        let tunnelTrip = try await roundTrips(port: Int(echoPort)), directTrip = try await roundTrips(port: echo.port)
        let tunnelFirst = try await firstBytes(port: Int(echoPort)), directFirst = try await firstBytes(port: echo.port)
        await echo.close()
        return Figures(tunnelBitsPerSecond: tunnelBits, directBitsPerSecond: directBits, iperfNote: note,
                       roundTrip: (tunnelTrip, directTrip), firstByte: (tunnelFirst, directFirst),
                       cipher: ShadowCipher.localOffer & ShadowCipher.aes256GCM.rawValue != 0 ? "AES-256-GCM" : "ChaCha20-Poly1305")
    }

    /// Receiver's bits per second of an `iperf3 -c` run to 127.0.0.1:`port`.
    private static func iperf(port: Int, seconds: Int) async throws -> Double? {
        let outcome = try await ChildProcess.run("/usr/bin/iperf3", ["-c", "127.0.0.1", "-p", "\(port)", "-t", "\(seconds)", "-J"])
        guard let json = try? JSONSerialization.jsonObject(with: Data(outcome.stdout.utf8)) as? [String: Any],
              let end = json["end"] as? [String: Any], let received = end["sum_received"] as? [String: Any] else { return nil }
        return received["bits_per_second"] as? Double
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

    private static func percentiles(_ samples: [Double]) -> (p50: Double, p99: Double) {
        let sorted = samples.sorted()
        return (sorted[sorted.count / 2], sorted[min(sorted.count - 1, sorted.count * 99 / 100)])
    }

    private final class Exposed: @unchecked Sendable {
        // @unchecked: guarded by `lock`.
        private let lock = NSLock()
        private var latest: [PublicEndpoint]?
        func set(_ endpoints: [PublicEndpoint]) { lock.withLock { latest = endpoints } }
        var endpoints: [PublicEndpoint]? { lock.withLock { latest } }
    }
}

/// A benchmark that could not run here, and why.
struct BenchmarkSkipped: Error, CustomStringConvertible {
    let reason: String
    var description: String { "not measured: \(reason)" }
}
