import CarrierHTTP
import Foundation
import NIOHTTP1
import Synchronization
import TestSupport

/// An `HTTPServer` on 127.0.0.1 with test-sized limits that answers every request with a small
/// JSON body (or `respond`), counting the requests it answered.
final class TestServer: Sendable {
    private final class Count: Sendable {
        let value = Atomic<Int>(0)
    }

    let server: HTTPServer
    private let answered = Count()

    init(limits: HTTPServerLimits = TestServer.shortLimits, webSocket: WebSocketEndpoint? = nil,
         respond: (@Sendable (HTTPRequest) async -> HTTPAnswer)? = nil) throws {
        let answered = self.answered
        server = try HTTPServer(host: "127.0.0.1", port: 0, limits: limits, webSocket: webSocket) { request in
            answered.value.add(1, ordering: .relaxed)
            if let respond { return await respond(request) }
            return .json(#"{"path":"\#(request.path)","query":\#(request.query.count)}"#)
        }
    }

    /// Deadlines of a second or two, so a test of them takes seconds.
    static var shortLimits: HTTPServerLimits {
        var limits = HTTPServerLimits()
        limits.headerTimeout = .seconds(2)
        limits.idleTimeout = .seconds(2)
        limits.bodyGrace = .seconds(2)
        limits.writeStallTimeout = .seconds(3)
        return limits
    }

    var port: Int { server.port }
    var answeredCount: Int { answered.value.load(ordering: .relaxed) }

    func count(_ refusal: HTTPServerCounters.Refusal) -> Int { server.counters.snapshot[refusal] ?? 0 }

    func connect(receiveBuffer: Int32? = nil) throws -> RawTCPClient { try RawTCPClient(port: port, receiveBuffer: receiveBuffer) }

    /// One GET on a new connection, the whole answer as text (it ends when the server closes; the
    /// 20 s only bound a wait for a pool that other tests keep busy).
    func get(_ target: String) async throws -> String {
        let client = try connect()
        try client.send("GET \(target) HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        return try await client.drainText(timeout: 20).text
    }

    /// Closing waits (for connections, for the event loop): done on a Dispatch thread, so tests
    /// ending at once cannot block Swift's concurrency pool, where the other servers answer.
    deinit {
        let server = self.server
        DispatchQueue.global().async { server.close() }
    }
}
