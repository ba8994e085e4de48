import CarrierCore
import CarrierDHT
@testable import CarrierHost
import Foundation
import TestSupport
import Testing

/// The proxy's WebSocket API (`/v1/ws`) with the plugin in a supernode on loopback, in process
/// and in a plugin runner: every operation, subscriptions to a value and to a peer, resubscription
/// after a reconnect, and every error path.
@Suite(.serialized)
struct ProxyWebSocketTests {
    @Test(arguments: PluginHostTests.isolations) func everyOperationAndSubscriptionOverOneSocket(isolation: PluginManifest.Isolation) async throws {
        let network = try await HostNetwork.start()
        let host = PluginHost(environment: network.environment, runnerSettings: RunnerSettings(executable: CarrierBinary.path))
        await host.apply([try HostNetwork.manifest(library: try CPlugins.proxy(), id: "org.carrier.proxy",
                                                   config: HostNetwork.openProxy + "pollSeconds = 1", isolation: isolation)])
        let endpoint = try #require(network.environment.services.announced.first { $0.type == "proxy" }?.endpoint)
        let port = try #require(Int(endpoint.split(separator: ":").last ?? ""))
        let socket = try await TestWebSocket.connect(host: "127.0.0.1", port: port)
        let watcher = try await TestWebSocket.connect(host: "127.0.0.1", port: port)

        // Requests are answered by request id.
        try await socket.send(#"{"req":1,"op":"node"}"#)
        #expect(await socket.message(containing: #""req":1,"result":{"id":"\#(network.host.id.base58)""#) != nil, "\(socket.received)")

        // A value the light node signed: stored, then read back whole.
        let light = KeyPair.random()
        let first = Value.signed(by: light, sequenceNumber: 1, data: Array("first".utf8))
        try await socket.send(#"{"req":2,"op":"putValue","value":\#(first.json)}"#)
        #expect(await socket.message(containing: #""req":2,"result":{"id":"\#(light.publicKey.base58)","accepted":"#) != nil, "\(socket.received)")
        try await socket.send(#"{"req":3,"op":"getValue","id":"\#(light.publicKey.base58)"}"#)
        let got = try #require(await socket.message(containing: #""req":3"#))
        #expect(got == #"{"req":3,"result":\#(first.json)}"#)

        // A subscription sends what is current, then each newer version.
        try await watcher.send(#"{"req":1,"op":"subscribe","value":"\#(light.publicKey.base58)"}"#)
        #expect(await watcher.message(containing: #""req":1,"result":{"subscription":1}"#) != nil, "\(watcher.received)")
        #expect(await watcher.message(containing: #""event":"value","subscription":1,"value":\#(first.json)"#) != nil, "\(watcher.received)")
        let second = Value.signed(by: light, sequenceNumber: 2, data: Array("second".utf8))
        try await socket.send(#"{"req":4,"op":"putValue","value":\#(second.json)}"#)
        #expect(await watcher.message(containing: #""value":\#(second.json)"#) != nil, "a put through the proxy reaches subscribers")

        // Resubscribing after a reconnect with the last seq seen brings only what was missed, here
        // a version stored by a regular node, not through the proxy.
        await watcher.close()
        let third = Value.signed(by: light, sequenceNumber: 3, data: Array("third".utf8))
        _ = try await network.client.storeValue(third, persistent: false)
        let again = try await TestWebSocket.connect(host: "127.0.0.1", port: port)
        try await again.send(#"{"req":1,"op":"subscribe","value":"\#(light.publicKey.base58)","seq":2}"#)
        #expect(await again.message(containing: #""value":\#(third.json)"#) != nil, "\(again.received)")
        #expect(!again.received.contains { $0.contains(second.json) })

        // Peers: a subscription hears an announcement; find and announce answer like REST.
        let peerOwner = KeyPair.random()
        try await again.send(#"{"req":2,"op":"subscribe","peer":"\#(peerOwner.publicKey.base58)"}"#)
        #expect(await again.message(containing: #""req":2,"result":{"subscription":2}"#) != nil)
        let record = PeerInfo.create(owner: peerOwner, sequenceNumber: 1, endpoint: "https://phone.example:443")
        try await socket.send(#"{"req":5,"op":"announcePeer","peer":\#(record.json)}"#)
        #expect(await socket.message(containing: #""req":5,"result":{"id":"\#(peerOwner.publicKey.base58)""#) != nil, "\(socket.received)")
        #expect(await again.message(containing: #""event":"peers","subscription":2,"peers":[\#(record.json)]"#) != nil, "\(again.received)")
        try await socket.send(#"{"req":6,"op":"findPeers","id":"\#(peerOwner.publicKey.base58)"}"#)
        #expect(await socket.message(containing: #""req":6,"result":{"peers":[\#(record.json)]}"#) != nil, "\(socket.received)")
        try await socket.send(#"{"req":7,"op":"findNode","id":"\#(network.client.id.base58)"}"#)
        #expect(await socket.message(containing: #""req":7,"result":{"nodes":[["#) != nil)
        try await socket.send(#"{"req":8,"op":"findServices","type":"proxy"}"#)
        #expect(await socket.message(containing: #""req":8,"result":{"type":"proxy","providers":[{"node":"\#(network.host.id.base58)""#) != nil,
                "\(socket.received)")
        try await again.send(#"{"req":3,"op":"unsubscribe","subscription":2}"#)
        #expect(await again.message(containing: #""req":3,"result":{}"#) != nil)

        // Errors carry the request id when there is one, and the protocol's codes.
        var forged = second
        forged.data = Array("altered".utf8)
        let unread = Value.signed(by: light, sequenceNumber: 4, data: Array("written after reading only 1".utf8))
        let cases: [(String, String)] = [
            ("{not json", #"{"error":{"code":203,"#),
            (#"{"op":"node"}"#, #"{"error":{"code":203,"message":"req must be"#),
            (#"{"req":10,"op":"fly"}"#, #"{"req":10,"error":{"code":204,"message":"unknown op \"fly\""#),
            (#"{"req":11,"op":"getValue","id":"\#(Id.random().base58)"}"#, #"{"req":11,"error":{"code":3,"#),
            (#"{"req":12,"op":"getValue","id":"nope"}"#, #"{"req":12,"error":{"code":203,"#),
            (#"{"req":13,"op":"putValue","value":\#(forged.json)}"#, #"{"req":13,"error":{"code":401,"#),
            (#"{"req":14,"op":"getValue"}"#, #"{"req":14,"error":{"code":203,"message":"getValue needs"#),
            (#"{"req":15,"op":"unsubscribe","subscription":99}"#, #"{"req":15,"error":{"code":3,"#),
            (#"{"req":16,"op":"subscribe","value":"x","peer":"y"}"#, #"{"req":16,"error":{"code":203,"#),
            (#"{"req":17,"op":"findServices","type":"Bad Type"}"#, #"{"req":17,"error":{"code":203,"#),
            (#"{"req":18,"op":"putValue","value":\#(unread.json),"cas":1}"#, #"{"req":18,"error":{"code":301,"#),
        ]
        for (index, (message, expected)) in cases.enumerated() {
            let start = socket.received.count
            try await socket.send(message)
            #expect(await socket.message(containing: expected, from: start) != nil, "case \(index): \(socket.received.dropFirst(start))")
        }

        // A binary message, and one over 64 KiB, end the connection with the code that says why.
        let binary = try await TestWebSocket.connect(host: "127.0.0.1", port: port)
        try await binary.sendBinary([1, 2, 3])
        #expect(await eventually { binary.closeCode == 1003 }, "\(String(describing: binary.closeCode))")
        let large = try await TestWebSocket.connect(host: "127.0.0.1", port: port)
        try? await large.send(#"{"req":1,"op":"node","pad":""# + String(repeating: "x", count: 70_000) + #""}"#)
        #expect(await eventually { large.closeCode == 1009 }, "\(String(describing: large.closeCode))")

        // At most 256 subscriptions per connection.
        let many = try await TestWebSocket.connect(host: "127.0.0.1", port: port)
        // In batches of 32, so as to stay under the 64 requests a connection may have in flight.
        for first in stride(from: 1, through: 257, by: 32) {
            let last = min(first + 31, 257)
            for request in first...last { try await many.send(#"{"req":\#(request),"op":"subscribe","value":"\#(light.publicKey.base58)","seq":3}"#) }
            _ = await eventually { many.received.filter { $0.hasPrefix(#"{"req":"#) }.count >= last }
        }
        #expect(await many.message(containing: #"{"req":257,"error":{"code":201,"message":"at most 256 subscriptions"#) != nil,
                "\(many.received.suffix(2))")
        #expect(many.received.filter { $0.contains(#""result":{"subscription":"#) }.count == 256)

        for client in [socket, again, binary, large, many] { await client.close() }
        await host.stopAll()
        await network.stop()
    }
}
