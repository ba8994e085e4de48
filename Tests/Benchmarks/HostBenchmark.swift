import CarrierCore
import CarrierDHT
import CarrierHost
import Foundation

/// The plugin host's costs with the hello-c example (built by `make bench`, as `make run` does):
/// a call into the plugin straight through its table and through the instance's executor, a
/// host-API call from the plugin's side, loading and starting a plugin, and the resident memory
/// of an idle `carrier run --manifests` with the C and Swift examples loaded; then the same calls
/// with the plugin in a `carrier plugin-runner` (`isolation = "process"`).
enum HostBenchmark {
    struct Figures {
        let directCallNanoseconds: Double
        let executorCallMicroseconds: Double
        let hostCallNanoseconds: Double
        let loadStartMilliseconds: (p50: Double, max: Double)
        let idleResidentKiB: Int?
        let idleNote: String
        /// `sign` from the plugin's side, in process (the baseline of the runner's round trip).
        let signNanoseconds: Double
        let isolated: IsolatedFigures?
    }

    /// The same plugin under `isolation = "process"`.
    struct IsolatedFigures {
        let healthMicroseconds: Double
        let signMicroseconds: Double
        let counterAddNanoseconds: Double
        let startMilliseconds: (p50: Double, max: Double)
    }

    /// The `carrier` and `libHelloSwiftPlugin.so` built beside this benchmark (release, by `make bench`).
    static let buildFolder = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    static let carrier = buildFolder.appendingPathComponent("carrier").path

    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// A started DHT node on 127.0.0.1 with its data in `scratch`/node, and what a supernode built
    /// on it hands its plugins.
    static func supernode(in scratch: String) async throws -> (DHTNode, HostEnvironment) {
        var configuration = DHTNode.Configuration(listen: Endpoint("127.0.0.1:0")!, dataDirectory: "\(scratch)/node")
        configuration.allowLocal = true
        let node = try DHTNode(identity: KeyPair.random(), configuration: configuration)
        try await node.start()
        let environment = HostEnvironment(identity: node.identity, dht: node,
                                          services: ServiceRegistry(identity: node.identity, dht: node, publicHost: "127.0.0.1"),
                                          metrics: PluginMetrics(), billing: try BillingAccounts(ledger: BillingLedger.open(dataDirectory: "\(scratch)/node")),
                                          dataDirectory: "\(scratch)/node")
        return (node, environment)
    }

    static func run(seconds: Double) async throws -> Figures {
        let helloC = repository.appendingPathComponent("Plugins/examples/hello-c/libhello-c.so").path
        let scratch = NSTemporaryDirectory() + "carrier-host-bench-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let (node, environment) = try await supernode(in: scratch)

        // Load + create + start, each time from a fresh copy (a loaded library is never reloaded).
        var loadStart: [Double] = []
        for round in 0..<20 {
            let copy = "\(scratch)/libhello-c-\(round).so"
            try FileManager.default.copyItem(atPath: helloC, toPath: copy)
            let manifest = try self.manifest(library: copy)
            let started = ContinuousClock.now
            let library = try PluginLibrary.load(manifest)
            let instance = try await PluginInstance.create(manifest, library: library, environment: environment)
            try await instance.start()
            loadStart.append(Measurement.milliseconds(ContinuousClock.now - started))
            try await instance.stopAndDestroy()
        }

        let manifest = try self.manifest(library: helloC)
        let instance = try await PluginInstance.create(manifest, library: try PluginLibrary.load(manifest), environment: environment)
        try await instance.start()
        let direct = measure { instance.timePluginCalls($0) }
        let host = measure { instance.timeHostCalls($0) }
        let sign = measure(count: 20_000) { instance.timeHostCalls($0, call: .sign) }
        let executor = try await microsecondsPerCall(seconds: seconds) { _ = try await instance.health() }
        try await instance.stopAndDestroy()
        let isolated = FileManager.default.isExecutableFile(atPath: carrier)
            ? try await isolatedFigures(manifest: try self.manifest(library: helloC, isolation: .process), environment: environment, seconds: seconds)
            : nil
        await node.stop()
        let idle = try idleResident()
        loadStart.sort()
        return Figures(directCallNanoseconds: direct, executorCallMicroseconds: executor,
                       hostCallNanoseconds: host, loadStartMilliseconds: (loadStart[loadStart.count / 2], loadStart.last!),
                       idleResidentKiB: idle.kib, idleNote: idle.note, signNanoseconds: sign, isolated: isolated)
    }

    /// hello-c in a runner: 10 launches, then round trips both ways.
    private static func isolatedFigures(manifest: PluginManifest, environment: HostEnvironment, seconds: Double) async throws -> IsolatedFigures {
        let settings = RunnerSettings(executable: carrier)
        var starts: [Double] = []
        for _ in 0..<10 {
            let started = ContinuousClock.now
            let plugin = try await IsolatedPlugin.start(manifest, environment: environment, settings: settings)
            starts.append(Measurement.milliseconds(ContinuousClock.now - started))
            try await plugin.stopAndDestroy()
        }
        let plugin = try await IsolatedPlugin.start(manifest, environment: environment, settings: settings)
        let health = try await microsecondsPerCall(seconds: seconds) { _ = try await plugin.health() }
        var signs: [Double] = [], counters: [Double] = []
        for _ in 0..<5 {
            signs.append(Measurement.milliseconds(try await plugin.timeHostCalls(2_000, call: .sign)) * 1e3 / 2_000)
            counters.append(Measurement.milliseconds(try await plugin.timeHostCalls(100_000, call: .counterAdd)) * 1e6 / 100_000)
        }
        try await plugin.stopAndDestroy()
        starts.sort()
        return IsolatedFigures(healthMicroseconds: health, signMicroseconds: signs.sorted()[2], counterAddNanoseconds: counters.sorted()[2],
                               startMilliseconds: (starts[starts.count / 2], starts.last!))
    }

    /// The median µs per call of `body`, timed in batches of 100 for `seconds`.
    private static func microsecondsPerCall(seconds: Double, _ body: () async throws -> Void) async throws -> Double {
        var samples: [Double] = []
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(seconds)
        while clock.now < deadline {
            let started = clock.now
            for _ in 0..<100 { try await body() }
            samples.append(Measurement.milliseconds(clock.now - started) * 10)
        }
        return samples.sorted()[samples.count / 2]
    }

    /// ns per call of `body(count)` (which returns the time it took), the median of 5 rounds.
    private static func measure(count: Int = 200_000, _ body: (Int) -> Duration) -> Double {
        let samples = (0..<5).map { _ in Measurement.milliseconds(body(count)) * 1e6 / Double(count) }
        return samples.sorted()[2]
    }

    private static func manifest(library: String, isolation: PluginManifest.Isolation = .inProcess) throws -> PluginManifest {
        try PluginManifest.parse("""
            id = "org.carrier.examples.hello-c"
            version = "1.0.0"
            library = "\(library)"
            isolation = "\(isolation.rawValue)"
            sha256 = "\(PluginLibrary.sha256(ofFile: library)!)"
            [config]
            port = 0
            """, file: "/bench/hello-c.toml")
    }

    /// VmRSS of `carrier run --manifests` with hello-c and hello-swift, 3 s after it printed its plugins.
    private static func idleResident() throws -> (kib: Int?, note: String) {
        let swiftPlugin = buildFolder.appendingPathComponent("libHelloSwiftPlugin.so").path
        guard FileManager.default.isExecutableFile(atPath: carrier), FileManager.default.fileExists(atPath: swiftPlugin) else {
            return (nil, "not measured: build carrier and HelloSwiftPlugin in release mode (make bench does)")
        }
        let folder = NSTemporaryDirectory() + "carrier-idle-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try "data_dir = \"data\"\nlisten = [\"127.0.0.1:0\"]\nallow_local = true\nadmin = \"127.0.0.1:0\"\n"
            .write(toFile: "\(folder)/node.toml", atomically: true, encoding: .utf8)
        for (id, library) in [("org.carrier.examples.hello-c", repository.appendingPathComponent("Plugins/examples/hello-c/libhello-c.so").path),
                              ("org.carrier.examples.hello-swift", swiftPlugin)] {
            try "id = \"\(id)\"\nversion = \"1.0.0\"\nlibrary = \"\(library)\"\nsha256 = \"\(PluginLibrary.sha256(ofFile: library)!)\"\n[config]\nport = 0\n"
                .write(toFile: "\(folder)/\(id).toml", atomically: true, encoding: .utf8)
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: carrier)
        process.arguments = ["run", "--manifests", folder]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer { process.interrupt(); process.waitUntilExit() }
        var running = 0
        while running < 2, let line = readLine(output.fileHandleForReading) {
            if line.hasSuffix(": running") { running += 1 }
        }
        guard running == 2 else { return (nil, "not measured: the plugins did not both start") }
        Thread.sleep(forTimeInterval: 3)
        return (Measurement.residentKiB(of: "\(process.processIdentifier)"), "carrier run --manifests, hello-c and hello-swift running, 3 s idle")
    }

    private static func readLine(_ handle: FileHandle) -> String? {
        var bytes: [UInt8] = []
        while let chunk = try? handle.read(upToCount: 1), let byte = chunk.first {
            if byte == UInt8(ascii: "\n") { return String(decoding: bytes, as: UTF8.self) }
            bytes.append(byte)
        }
        return bytes.isEmpty ? nil : String(decoding: bytes, as: UTF8.self)
    }
}
