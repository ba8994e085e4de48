import CarrierCore
import CarrierHTTP
import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix

/// The proxy's HTTP server (`CarrierHTTP`, with the proxy's default limits) against a Hummingbird
/// 2 router, in one process and one run, each on one event-loop thread, serving the same backend
/// (one `respond` closure, as the proxy's routes are): the proxy's hottest route, a GET of a
/// cached value (`/v1/values/{id}`), and `/v1/status`. `wrk` loads each in turn, alternating,
/// `rounds` times.
enum HTTPServerComparison {
    struct Figures {
        let routes: [String]
        /// Per route, each round's load on our server and on Hummingbird.
        let carrier: [String: [ProxyBenchmark.Load]]
        let hummingbird: [String: [ProxyBenchmark.Load]]
    }

    static let carrierPort = 39731, hummingbirdPort = 39732

    static func run(seconds: Int, rounds: Int = 3) async throws -> Figures {
        let backend = Backend()
        let carrier = try HTTPServer(host: "127.0.0.1", port: carrierPort, respond: backend.respond)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let hummingbird = Task { try await hummingbirdApplication(backend: backend, group: group).run() }
        defer {
            hummingbird.cancel()
            carrier.close()
        }
        try await Task.sleep(for: .milliseconds(500))
        let routes = ["/v1/values/\(Backend.id)", "/v1/status"]
        var ours: [String: [ProxyBenchmark.Load]] = [:], theirs: [String: [ProxyBenchmark.Load]] = [:]
        for _ in 0..<rounds {
            for route in routes {
                ours[route, default: []].append(try ProxyBenchmark.wrk("http://127.0.0.1:\(carrierPort)\(route)", seconds: seconds))
                theirs[route, default: []].append(try ProxyBenchmark.wrk("http://127.0.0.1:\(hummingbirdPort)\(route)", seconds: seconds))
            }
        }
        return Figures(routes: routes, carrier: ours, hummingbird: theirs)
    }

    /// Hummingbird's side: its router, a route per path, each handing the request to the backend.
    private static func hummingbirdApplication(backend: Backend, group: EventLoopGroup) -> some ApplicationProtocol {
        let router = Router()
        for path in ["/v1/values/:id", "/v1/status"] {
            router.get(RouterPath(path)) { request, _ -> Response in
                let answer = await backend.respond(CarrierHTTP.HTTPRequest(method: .GET, path: request.uri.path, remote: "127.0.0.1"))
                var headers = HTTPFields()
                headers[.contentType] = answer.contentType
                return Response(status: HTTPResponse.Status(code: Int(answer.status.code)), headers: headers,
                                body: ResponseBody(byteBuffer: ByteBuffer(string: answer.body)))
            }
        }
        var logger = Logger(label: "carrier.bench.hummingbird")
        logger.logLevel = .warning
        return Application(router: router, configuration: ApplicationConfiguration(address: .hostname("127.0.0.1", port: hummingbirdPort)),
                           eventLoopGroupProvider: .shared(group), logger: logger)
    }

    /// What both servers answer from: a cached signed value, as the proxy keeps them, and a
    /// status that counts the requests served.
    final class Backend: Sendable {
        static let owner = KeyPair.random()
        static let id = owner.publicKey.base58
        private let cache: [String: String] = [id: Value.signed(by: owner, sequenceNumber: 1, data: Array("a value for the benchmark".utf8)).json]
        private let served = Counter()

        private actor Counter {
            var count = 0
            func next() -> Int { count += 1; return count }
        }

        @Sendable func respond(_ request: CarrierHTTP.HTTPRequest) async -> HTTPAnswer {
            let count = await served.next()
            if request.path == "/v1/status" { return .json(#"{"ok":true,"served":\#(count)}"#) }
            guard request.path.hasPrefix("/v1/values/"), let value = cache[String(request.path.dropFirst("/v1/values/".count))] else {
                return .json(#"{"error":"not found"}"#, .notFound)
            }
            return .json(value)
        }
    }
}
