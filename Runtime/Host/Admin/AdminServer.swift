import CarrierCore
import CarrierDHT
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle
import Synchronization

/// The admin HTTP endpoint (loopback by default), served by Hummingbird: `GET /status`,
/// `GET /plugins`, `GET /billing`, `GET /metrics` (Prometheus text format) and `POST /reload`
/// (re-read the manifests, like SIGHUP). Requests are routed on the path alone, so a query
/// string changes nothing; request bodies over 4 KiB are refused with 413.
public final class AdminServer: Sendable {
    static let maxBody = 4096
    public let localEndpoint: Endpoint
    private let group: ServiceGroup
    private let running: Task<Void, any Error>

    /// Binds `endpoint` and serves `routes` until `close()`; throws if it cannot bind.
    public init(binding endpoint: Endpoint, routes: AdminRoutes) async throws {
        let router = Router()
        router.add(middleware: AdminAnswers(routes: routes))
        for route in routes.table {
            let answer = route.answer
            router.on(RouterPath(route.path), method: HTTPRequest.Method(route.method.rawValue)!) { _, _ in await answer().hummingbird }
        }
        var logger = Logger(label: "carrier.admin")
        logger.logLevel = .warning
        let bound = BindOutcome()
        let application = Application(router: router,
                                      configuration: ApplicationConfiguration(address: .hostname(endpoint.address.description, port: Int(endpoint.port))),
                                      onServerRunning: { channel in bound.resolve(.success(channel.localAddress)) }, logger: logger)
        let group = ServiceGroup(services: [application], logger: logger)
        self.group = group
        running = Task {
            do { try await group.run() } catch {
                bound.resolve(.failure(error))
                throw error
            }
        }
        let local: SocketAddress?
        do { local = try await bound.wait() } catch {
            throw AdminServerError("cannot serve the admin endpoint on \(endpoint): \(error)")
        }
        guard let local, let text = local.ipAddress, let address = IPAddress(text), let port = local.port else {
            running.cancel()
            throw AdminServerError("cannot read the admin endpoint's bound address")
        }
        localEndpoint = Endpoint(address: address, port: UInt16(port))
    }

    /// Stops serving (a graceful shutdown: requests under way are answered) and waits until the
    /// server has closed.
    public func close() async {
        await group.triggerGracefulShutdown()
        _ = await running.result
    }
}

/// The admin endpoint could not be started.
public struct AdminServerError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Where the server's start is reported once: its bound address, or why it did not bind.
private final class BindOutcome: Sendable {
    private struct State {
        var outcome: Result<SocketAddress?, any Error>?
        var waiter: CheckedContinuation<SocketAddress?, any Error>?
    }

    private let state = Mutex(State())

    func resolve(_ outcome: Result<SocketAddress?, any Error>) {
        let waiter = state.withLock { state -> CheckedContinuation<SocketAddress?, any Error>? in
            guard state.outcome == nil else { return nil }
            state.outcome = outcome
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(with: outcome)
    }

    func wait() async throws -> SocketAddress? {
        try await withCheckedThrowingContinuation { continuation in
            let outcome = state.withLock { state -> Result<SocketAddress?, any Error>? in
                if state.outcome == nil { state.waiter = continuation }
                return state.outcome
            }
            if let outcome { continuation.resume(with: outcome) }
        }
    }
}

/// Answers what no route does (404, or 405 on a route's path) and bodies over
/// `AdminServer.maxBody` (413), in the admin endpoint's JSON error form.
private struct AdminAnswers<Context: RequestContext>: RouterMiddleware {
    let routes: AdminRoutes

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var request = request
        do {
            _ = try await request.collectBody(upTo: AdminServer.maxBody)
        } catch {
            return AdminResponse.error(.payloadTooLarge, "request body over \(AdminServer.maxBody) bytes").hummingbird
        }
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound {
            return routes.unrouted(method: HTTPMethod(rawValue: request.method.rawValue), path: request.uri.path).hummingbird
        }
    }
}

extension AdminResponse {
    /// This answer as Hummingbird's response.
    var hummingbird: Response {
        var headers = HTTPFields()
        headers[.contentType] = contentType
        return Response(status: HTTPResponse.Status(code: Int(status.code)), headers: headers,
                        body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
    }
}
