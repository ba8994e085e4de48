import CarrierCore
import CarrierDHT
@testable import CarrierHost
import CarrierPluginABI
import Foundation
import TestSupport
import Testing

/// The plugin host with real shared libraries: the hello-c example end to end (load, start,
/// announce, discovery by another node, a TCP client, stop, withdrawal), and every way a library
/// is refused.
@Suite(.serialized)
struct PluginHostTests {
    /// The same library, unchanged, in the host's process and in a `carrier plugin-runner` child.
    static let isolations: [PluginManifest.Isolation] = [.inProcess, .process]

    private func pluginHost(_ network: HostNetwork) -> PluginHost {
        PluginHost(environment: network.environment, runnerSettings: RunnerSettings(executable: CarrierBinary.path))
    }

    @Test(arguments: isolations) func helloCRunsIsFoundServesAndIsWithdrawn(isolation: PluginManifest.Isolation) async throws {
        let network = try await HostNetwork.start()
        let library = try await CPlugins.helloC()
        let host = pluginHost(network)
        await host.apply([try HostNetwork.manifest(library: library, isolation: isolation)])
        let status = try #require(await host.status.first)
        #expect(status.state == .running && status.version == "1.0.0", "\(status)")

        var offers: [ServiceRecord] = []
        #expect(await eventually {
            offers = await ServiceRegistry.find(type: "hello", through: network.client).offers
            return !offers.isEmpty
        })
        let offer = try #require(offers.first)
        #expect(offer.node == network.host.id && offer.pluginId == "org.carrier.examples.hello-c" && offer.version == "1.0.0")
        #expect(offer.priceSummary == "free")
        let port = try #require(UInt16(offer.endpoint.split(separator: ":").last ?? ""))
        #expect(offer.endpoint == "tcp://127.0.0.1:\(port)")
        #expect(try TCPLine.read(port: port) == "hi from \(Hex.encode(network.host.id.bytes))")
        #expect(await eventually { network.environment.metrics.counter("connections", plugin: status.id) == 1 })
        let (health, detail) = try #require(try await host.instance(status.id)?.health())
        #expect(health == CARRIER_HEALTH_OK && detail == "listening on port \(port)")

        await host.apply([])
        #expect(await host.status.isEmpty)
        #expect(await eventually { await ServiceRegistry.find(type: "hello", through: network.client).offers.isEmpty },
                "the withdrawn record replaces the offer")
        #expect(throws: (any Error).self) { try TCPLine.read(port: port) }
        await network.stop()
    }

    @Test(arguments: isolations) func theSwiftExamplePublishesItsGreetingAndIsFound(isolation: PluginManifest.Isolation) async throws {
        let network = try await HostNetwork.start()
        let library = try CPlugins.helloSwift()
        let host = pluginHost(network)
        await host.apply([try HostNetwork.manifest(library: library, id: "org.carrier.examples.hello-swift", config: "greeting = \"hi from swift\"",
                                       isolation: isolation)])
        let status = try #require(await host.status.first)
        #expect(status.state == .running, "\(status)")
        #expect(await eventually { await network.client.findValue(network.host.id)?.data == Array("hi from swift".utf8) },
                "the greeting is a signed value under the node key")
        #expect(await eventually { (try? await host.instance(status.id)?.health().0) == CARRIER_HEALTH_OK })
        let detail = try #require(try await host.instance(status.id)?.health().1)
        #expect(detail.hasPrefix("seq 1 stored as \(Hex.encode(Array(network.host.id.bytes.prefix(4))))... on "),
                "store_signed handed back the value's id, the node id: \(detail)")
        let offers = await ServiceRegistry.find(type: "hello-swift", through: network.client).offers
        #expect(offers.map(\.endpoint) == ["dht://\(Hex.encode(network.host.id.bytes))"])
        #expect(network.environment.metrics.counter("publications", plugin: status.id) == 1)
        #expect(network.environment.metrics.counter("resumed_on_executor", plugin: status.id) == 1, // (a gauge, read by name)
                "after its await, the publication's task ran on the plugin's executor")
        #expect(network.environment.metrics.prometheusText().contains(
            "carrier_billing_usage_total{plugin=\"org.carrier.examples.hello-swift\",meter=\"publications\"} 1.0"))
        let seen = { network.environment.metrics.counter("storage_events", plugin: status.id) ?? 0 }
        // Its own greeting and service record are stored on its node too, and their events can
        // still be on the way: count from once the counter has held still for half a second.
        var before = seen()
        _ = await eventually {
            try? await Task.sleep(for: .milliseconds(500))
            defer { before = seen() }
            return seen() == before
        }
        _ = try await network.client.storeValue(Value.immutable(Array("seen by the plugin".utf8)), persistent: false)
        #expect(await eventually { seen() == before + 1 },
                "the plugin's event subscription saw the value stored on its node")
        await host.stopAll()
        #expect(await eventually { await ServiceRegistry.find(type: "hello-swift", through: network.client).offers.isEmpty })
        // Its usage report crossed the ABI (and, in a runner, the socket) into the billing ledger.
        try network.environment.billing.flush()
        let usage = try network.environment.billing.ledger.usage(client: network.host.id)
        #expect(usage.map(\.plugin) == ["org.carrier.examples.hello-swift"] && usage.map(\.meter) == ["publications"] && usage.map(\.units) == [1])
        await network.stop()
    }

    @Test(arguments: isolations) func everyRefusalIsPreciseAndTheOthersKeepRunning(isolation: PluginManifest.Isolation) async throws {
        let network = try await HostNetwork.start()
        let hello = try await CPlugins.helloC()
        let tampered = hello + ".tampered.so"
        try FileManager.default.copyItem(atPath: hello, toPath: tampered)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: tampered))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data([0]))
        try handle.close()
        let cases: [(PluginManifest, String)] = [
            (try HostNetwork.manifest(library: "/nonexistent/libx.so", id: "missing", pin: .some(String(repeating: "0", count: 64)), isolation: isolation),
             "does not exist"),
            (try HostNetwork.manifest(library: tampered, id: "tampered", pin: .some(PluginLibrary.sha256(ofFile: hello)), isolation: isolation),
             "but its manifest pins"),
            (try HostNetwork.manifest(library: hello, id: "unpinned", pin: .some(nil), isolation: isolation), "carrier plugins pin"),
            (try HostNetwork.manifest(library: try await CPlugins.conformance("no_entry"), id: "no-entry", isolation: isolation), "does not export carrier_plugin_entry_v1"),
            (try HostNetwork.manifest(library: try await CPlugins.conformance("wrong_major"), id: "wrong-major", isolation: isolation), "built for ABI major 2"),
            (try HostNetwork.manifest(library: try await CPlugins.conformance("null_table"), id: "null-table", isolation: isolation), "returned NULL"),
            (try HostNetwork.manifest(library: try await CPlugins.conformance("short_table"), id: "short", isolation: isolation), "smaller than the"),
            (try HostNetwork.manifest(library: hello, id: "other-id", isolation: isolation), "the library is \"org.carrier.examples.hello-c\""),
            (try HostNetwork.manifest(library: hello, config: "port = 70000", isolation: isolation),
             "create failed (CARRIER_ERR_INVALID_ARGUMENT): config.port 70000 is not a TCP port"),
            (try HostNetwork.manifest(library: hello, config: "port = 0\nhost = \"nowhere\"", isolation: isolation),
             "start failed (CARRIER_ERR_INVALID_ARGUMENT): config.host nowhere is not an IPv4 address"),
            (try HostNetwork.manifest(library: hello, config: "port = \"80\"", isolation: isolation),
             "create failed (CARRIER_ERR_INVALID_ARGUMENT): config.port must be an integer"),
            (try HostNetwork.manifest(library: hello, config: "greeting = 5", isolation: isolation),
             "create failed (CARRIER_ERR_INVALID_ARGUMENT): config.greeting must be a string of at most 63 bytes"),
        ]
        for (manifest, expected) in cases {
            let host = pluginHost(network)
            await host.apply([manifest])
            let status = try #require(await host.status.first)
            #expect(status.state == .failed && status.error?.contains(expected) == true, "\(manifest.id): \(status.error ?? "no error")")
            if isolation == .process {
                #expect(status.error?.contains("(in its plugin runner)") == true, "\(status.error ?? "")")
                #expect(status.error?.contains("(in its plugin runner): \(manifest.id):") == false, "the id once: \(status.error ?? "")")
            }
        }
        // A failing plugin does not stop the next one.
        let host = pluginHost(network)
        await host.apply([try HostNetwork.manifest(library: tampered, id: "tampered", pin: .some(PluginLibrary.sha256(ofFile: hello)), isolation: isolation),
                          try HostNetwork.manifest(library: hello, isolation: isolation)])
        #expect(await host.status.map(\.state) == [.running, .failed])
        await host.stopAll()
        await network.stop()
    }

    @Test func aLibraryRebuiltInPlaceIsRefusedUntilARestart() async throws {
        let library = try await CPlugins.helloC()
        _ = try PluginLibrary.load(try HostNetwork.manifest(library: library))
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: library))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data([0]))
        try handle.close()
        #expect(throws: PluginLoadError.changedOnDisk(path: library)) { try PluginLibrary.load(try HostNetwork.manifest(library: library)) }
    }

    @Test func aPluginStuckInStartIsReportedAndTheNodeKeepsServing() async throws {
        let network = try await HostNetwork.start()
        let library = try PluginLibrary.load(try HostNetwork.manifest(library: try await CPlugins.conformance("hang_in_start"), id: "conformance.hang"))
        let instance = try await PluginInstance.create(try HostNetwork.manifest(library: library.path, id: "conformance.hang"), library: library,
                                                       environment: network.environment, callLimit: .milliseconds(300))
        await #expect(throws: PluginLoadError.unresponsive(id: "conformance.hang", call: "start", seconds: 0.3)) { try await instance.start() }
        #expect(await network.client.ping(try #require(await network.host.nodeInfo)), "the DHT answers while the plugin is stuck")
        await network.stop()
    }
}

/// Reads the one line a TCP service sends, from 127.0.0.1.
enum TCPLine {
    struct Failure: Error {}

    static func read(port: UInt16) throws -> String {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw Failure() }
        var buffer = [UInt8](repeating: 0, count: 256)
        var received: [UInt8] = []
        while true {
            let count = recv(socket, &buffer, buffer.count, 0)
            guard count > 0 else { break }
            received += buffer[..<count]
        }
        return String(decoding: received, as: UTF8.self).trimmingCharacters(in: .newlines)
    }
}

/// A plugin built for an older minor keeps working: the host reads its table only up to its
/// `struct_size`, and fields of later minors are NULL to the host.
@Suite(.serialized)
struct OlderMinorTableTests {
    @Test func aTableOfABI10IsReadUpToItsSizeAndRuns() async throws {
        let path = try await CPlugins.conformance("older_minor")
        let library = try PluginLibrary.load(path: path)
        #expect(library.abiVersion == (1, 0))
        #expect(library.table.pointee.struct_size == UInt32(PluginLibrary.settleTableSize - MemoryLayout<UnsafeRawPointer>.size))
        #expect(library.table.pointee.settle == nil, "the bytes past the plugin's table were not read")

        let network = try await HostNetwork.start()
        for isolation in PluginHostTests.isolations {
            let host = PluginHost(environment: network.environment, runnerSettings: RunnerSettings(executable: CarrierBinary.path))
            await host.apply([try HostNetwork.manifest(library: path, id: "conformance.older-minor", isolation: isolation)])
            let status = await host.status
            #expect(status.map(\.state) == [.running], "\(isolation): \(status)")
            await host.stopAll()
        }
        await network.stop()
    }
}
