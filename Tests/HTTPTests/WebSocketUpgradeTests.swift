import CarrierHTTP
import NIOCore
import NIOEmbedded
import Testing
import TestSupport

/// Requests that ask for a WebSocket upgrade but do not get one: another path, another method than
/// GET, or a request with a body. They are answered as plain requests. An upgrade request with a body used to be upgraded
/// once its body ended; a client that left before the end leaked the connection's handlers (NIO's
/// `HTTPServerUpgradeHandler` keeps a closure over its own context while it waits). The Tests/Fuzz
/// `http` target found it.
@Suite(.serialized)
struct WebSocketUpgradeTests {
    private static let upgradeHeaders = "Host: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"

    private final class Ignored: WebSocketSession {
        func received(_ text: String) {}
        func closed() {}
    }

    private static func server() throws -> TestServer {
        try TestServer(webSocket: WebSocketEndpoint(path: "/ws", maxMessage: 1024) { _ in Ignored() })
    }

    @Test func anUpgradeRequestWithABodyIsAnsweredAsAPlainRequest() async throws {
        let server = try Self.server()
        let client = try server.connect()
        try client.send("GET /ws HTTP/1.1\r\n" + Self.upgradeHeaders + "Content-Length: 2\r\nConnection: close\r\n\r\n{}")
        let answer = try await client.drainText(timeout: 20).text
        #expect(answer.hasPrefix("HTTP/1.1 200") && answer.contains(#"{"path":"/ws""#), "\(answer)")
        #expect(server.answeredCount == 1)
    }

    @Test func anUpgradeForAnotherPathIsAnsweredAsAPlainRequest() async throws {
        let server = try Self.server()
        let client = try server.connect()
        try client.send("GET /other HTTP/1.1\r\n" + Self.upgradeHeaders + "\r\n")
        let (bytes, _) = try await client.read(timeout: 20) { String(decoding: $0, as: UTF8.self).contains(#"{"path":"/other""#) }
        #expect(String(decoding: bytes, as: UTF8.self).hasPrefix("HTTP/1.1 200"), "\(String(decoding: bytes, as: UTF8.self))")
    }

    @Test func anUpgradeByAnotherMethodIsAnsweredAsAPlainRequest() async throws {
        let server = try Self.server()
        let client = try server.connect()
        try client.send("POST /ws HTTP/1.1\r\n" + Self.upgradeHeaders + "Content-Length: 0\r\nConnection: close\r\n\r\n")
        let answer = try await client.drainText(timeout: 20).text
        #expect(answer.hasPrefix("HTTP/1.1 200") && answer.contains(#"{"path":"/ws""#), "\(answer)")
    }

    private final class Sentinel: Sendable {}

    /// A client leaves while its upgrade request's body is still due: once the connection is
    /// closed, nothing of it is left (here: the `respond` its request handler holds).
    @Test(arguments: [
        // The fuzzer's input: chunked, then bytes that are not a chunk.
        hex("474554202f76312f77733f746f6b656e3d61626320485454502f312e310d0a5472616e736665722d456e636f64696e673a206368756e6b65640d0a"
            + "486f73743a2070726f78790d0a557067726164653a20776562736f636b65740d0a436f6e6e656374696f6e3a20557067726164650d0a5365632d"
            + "576562536f636b65742d4b65793a206447686c49484e68625842735a5342756232356a5a512b3d0d0a5365632d576562536f636b65742d566572"
            + "73696f6e3a2031330d0a0d0a81820102030410000000000053657175656b007a7f"),
        // Two bytes of a five-byte body, then the client leaves.
        Array(("GET /v1/ws HTTP/1.1\r\n" + upgradeHeaders + "Content-Length: 5\r\n\r\nab").utf8),
    ])
    func aClientLeavingDuringAnUpgradeRequestsBodyLeavesNothingBehind(request: [UInt8]) throws {
        weak var sentinel: Sentinel?
        do {
            let object = Sentinel()
            sentinel = object
            let channel = EmbeddedChannel()
            try HTTPServer.configure(channel, limits: HTTPServerLimits(), counters: HTTPServerCounters(),
                                     connections: ServerConnections(perSource: 8, total: 8),
                                     webSocket: WebSocketEndpoint(path: "/v1/ws", maxMessage: 1024) { _ in Ignored() },
                                     refusal: { status, _ in .json("{}", status) }, respond: { _ in withExtendedLifetime(object) { .json("{}") } })
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
            _ = try? channel.writeInbound(channel.allocator.buffer(bytes: request))
            _ = try? channel.finish(acceptAlreadyClosed: true)
        }
        #expect(sentinel == nil, "the connection's handlers outlived it")
    }
}

private func hex(_ text: String) -> [UInt8] {
    let digits = Array(text.utf8)
    return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(decoding: digits[$0..<$0 + 2], as: UTF8.self), radix: 16)! }
}
