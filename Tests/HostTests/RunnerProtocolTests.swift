import CarrierCore
import CarrierDHT
@testable import CarrierHost
import Foundation
import TestSupport
import Testing

/// The messages between the host and a plugin runner: records survive the trip exactly, and
/// anything malformed, from a broken or hostile runner, is refused with a precise reason.
struct RunnerProtocolTests {
    @Test func recordsCrossTheSocketExactly() throws {
        let owner = KeyPair.random(), node = KeyPair.random()
        let value = try Value.encrypted(by: owner, for: node.publicKey, sequenceNumber: 7, plaintext: Array("secret".utf8))
        let peer = PeerInfo.create(owner: owner, node: node, endpoint: "tcp://127.0.0.1:9")
        let nodes = [NodeInfo(id: node.publicKey, address: IPAddress("127.0.0.1")!, port: 39001),
                     NodeInfo(id: owner.publicKey, address: IPAddress("::1")!, port: 1)]
        let message = RunnerMessage("store", id: 42, ["value": RunnerMessage.encode(value: value), "peers": RunnerMessage.encode(peers: [peer]),
                                                     "nodes": RunnerMessage.encode(nodes: nodes), "amount": .unsigned((0.25).bitPattern)])
        let decoded = try RunnerMessage.decode(message.encoded)
        #expect(decoded == message && decoded.id == 42)
        #expect(try decoded.value("value") == value)
        #expect(try decoded.peers("peers") == [peer])
        #expect(try decoded.nodes("nodes") == nodes)
        #expect(try decoded.double("amount") == 0.25)
    }

    private static func cbor(_ item: CBOR) -> [UInt8] {
        var writer = CBORWriter()
        writer.item(item)
        return writer.bytes
    }

    @Test(arguments: [
        ([0xFF], "not CBOR"),
        (cbor(.unsigned(1)), "must be a map, not a integer"),
        (cbor(.map([CBOR.Entry("id", .unsigned(1))])), "needs a text `op`"),
        (cbor(.map([CBOR.Entry("op", .text("sign")), CBOR.Entry("id", .text("1"))])), "`id` of sign must be an unsigned integer"),
    ] as [([UInt8], String)])
    func malformedMessagesAreRefused(bytes: [UInt8], reason: String) {
        #expect { try RunnerMessage.decode(bytes) } throws: { "\($0)".contains(reason) }
    }

    @Test func fieldsOfTheWrongShapeAreNamed() throws {
        let message = try RunnerMessage.decode(RunnerMessage("find_value", id: 1, ["target": .bytes([1, 2, 3]), "value": .bytes([0xA0])]).encoded)
        #expect { try message.id("target") } throws: { "\($0)" == "find_value: `target` must be a 32-byte id" }
        #expect { try message.value("value") } throws: { "\($0)".contains("`value` is not a Boson record") }
        #expect { try message.text("missing") } throws: { "\($0)" == "find_value: `missing` must be a text string" }
    }

    @Test func aRunnerThatSendsGarbageIsDroppedWithTheReason() async throws {
        let network = try await HostNetwork.start()
        let script = NSTemporaryDirectory() + "carrier-fake-runner-\(UUID().uuidString).sh"
        // Not a runner: it answers the host's first request with bytes that are not CBOR.
        try "#!/bin/sh\nprintf 'garbage' >&3\nsleep 30\n".write(toFile: script, atomically: true, encoding: .utf8)
        chmod(script, 0o755)
        var settings = RunnerSettings(executable: script)
        settings.firstRestartDelay = .seconds(30)
        let manifest = try HostNetwork.manifest(library: try await CPlugins.helloC(), isolation: .process)
        let isolated = try await IsolatedPlugin.start(manifest, environment: network.environment, settings: settings)
        let condition = isolated.condition
        #expect(!condition.running && condition.losses == 1, "\(condition)")
        #expect(condition.lastLoss?.contains("a malformed message: not CBOR") == true, "\(condition.lastLoss ?? "")")
        #expect(condition.lastLoss?.contains("killed by signal 9") == true, "the host killed it: \(condition.lastLoss ?? "")")
        try await isolated.stopAndDestroy()
        await network.stop()
    }
}
