import CarrierCore
@testable import CarrierHost
import CarrierShadow
import TestSupport
import Testing

/// Spare data connections (docs/shadow.md, "Streams"): a client keeps a few authenticated data
/// connections ready, and a public connection is relayed over one at once, without waiting for
/// a new connection's handshake.
@Suite(.serialized)
struct ShadowSpareTests {
    typealias Supernode = ShadowRelayTests.Supernode
    static let group = ShadowRelayTests.group

    /// Whether one new public connection to `port` echoes `text`.
    private static func echoes(_ port: Int, _ text: String) async throws -> Bool {
        let connection = try RawTCPClient(port: port)
        defer { connection.close() }
        try connection.send(text)
        return try await connection.read(timeout: 5) { $0.count >= text.utf8.count }.bytes == Array(text.utf8)
    }

    @Test func aPublicConnectionTakesASpareAndTheClientReplacesIt() async throws {
        try await Supernode.with { node in
            let echo = try await TCPEchoServer(group: Self.group)
            let client = ShadowClient(identity: KeyPair.random(), supernode: node.supernode,
                                      services: [ShadowService(name: "echo", targetHost: "127.0.0.1", targetPort: echo.port)], group: Self.group,
                                      spares: 2)
            let (endpoints, _, running) = try await ShadowRelayTests.expose(client)
            let port = Int(try #require(endpoints.first?.port))
            #expect(await eventually { node.counter("spares_joined") == 2 })

            #expect(try await Self.echoes(port, "first"))
            #expect(node.counter("streams_spare") == 1)
            #expect(await eventually { node.counter("spares_joined") == 3 }, "the one taken is replaced")
            for round in 0..<5 {
                #expect(await eventually { node.counter("spares_joined") == Double(3 + round) })
                #expect(try await Self.echoes(port, "round \(round)"))
            }
            #expect(node.counter("streams_spare") == 6 && node.counter("streams_unattached") == 0)
            #expect(client.statistics.streams == 6)
            running.cancel()
            _ = await running.value
            await echo.close()
        }
    }

    @Test func aSupernodeKeepsNoMoreSparesThanItsLimitAndTheClientDoesNotInsist() async throws {
        try await Supernode.with(config: "sparesPerClient = 1\n") { node in
            let echo = try await TCPEchoServer(group: Self.group)
            let client = ShadowClient(identity: KeyPair.random(), supernode: node.supernode,
                                      services: [ShadowService(name: "echo", targetHost: "127.0.0.1", targetPort: echo.port)], group: Self.group,
                                      spares: 3)
            let (endpoints, _, running) = try await ShadowRelayTests.expose(client)
            #expect(await eventually { node.counter("spares_joined") == 1 && node.counter("refused_spares") == 2 })
            try await Task.sleep(for: .milliseconds(500))
            #expect(node.counter("spares_joined") == 1 && node.counter("refused_spares") == 2, "no spare refused is dialed again")

            // Without a spare at hand, a connection is opened on the control connection as before.
            let port = Int(try #require(endpoints.first?.port))
            #expect(try await Self.echoes(port, "one"))
            #expect(try await Self.echoes(port, "two"))
            #expect(node.counter("streams_spare") >= 1 && client.statistics.streams == 2)
            running.cancel()
            _ = await running.value
            await echo.close()
        }
    }

    @Test func aBurstThatFindsNoSpareReadyGrowsThemUpToEight() async throws {
        try await Supernode.with { node in
            let echo = try await TCPEchoServer(group: Self.group)
            let client = ShadowClient(identity: KeyPair.random(), supernode: node.supernode,
                                      services: [ShadowService(name: "echo", targetHost: "127.0.0.1", targetPort: echo.port)], group: Self.group,
                                      spares: 1)
            let (endpoints, _, running) = try await ShadowRelayTests.expose(client)
            let port = Int(try #require(endpoints.first?.port))
            #expect(await eventually { node.counter("spares_joined") == 1 })
            let burst = try (0..<10).map { _ in try RawTCPClient(port: port) }
            for (index, connection) in burst.enumerated() {
                try connection.send("c\(index)")
                #expect(try await connection.read(timeout: 5) { $0.count >= 2 }.bytes.count >= 2)
            }
            // Each spare taken is replaced, and each connection opened without one adds one.
            let viaSpares = node.counter("streams_spare")
            #expect(viaSpares >= 1 && viaSpares < 10)
            #expect(await eventually { node.counter("spares_joined") - viaSpares == min(8, 1 + (10 - viaSpares)) },
                    "\(node.counter("spares_joined")) joined, \(viaSpares) taken")
            burst.forEach { $0.close() }
            running.cancel()
            _ = await running.value
            await echo.close()
        }
    }

    @Test func aStreamOverASpareOutlivesItsControlConnection() async throws {
        try await Supernode.with { node in
            let echo = try await TCPEchoServer(group: Self.group)
            let identity = KeyPair.random()
            let services = [ShadowService(name: "echo", targetHost: "127.0.0.1", targetPort: echo.port)]
            let first = ShadowClient(identity: identity, supernode: node.supernode, services: services, group: Self.group, spares: 2)
            let (endpoints, _, running) = try await ShadowRelayTests.expose(first)
            #expect(await eventually { node.counter("spares_joined") == 2 })
            let held = try RawTCPClient(port: Int(try #require(endpoints.first?.port)))
            try held.send("x")
            #expect(try await held.read(timeout: 5) { !$0.isEmpty }.bytes == Array("x".utf8))
            #expect(node.counter("streams_spare") == 1)

            // The same node connects again (as after a network change): the supernode closes the
            // first control connection. The stream lives on, as one attached the other way does.
            let second = ShadowClient(identity: identity, supernode: node.supernode, services: services, group: Self.group, spares: 2)
            let (_, _, again) = try await ShadowRelayTests.expose(second)
            try held.send("y")
            #expect(try await held.read(timeout: 5) { !$0.isEmpty }.bytes == Array("y".utf8))
            held.close()
            running.cancel()
            again.cancel()
            _ = await running.value
            _ = await again.value
            await echo.close()
        }
    }
}
