import CarrierCore
import CarrierDHT
import NIOCore
import NIOHTTP1
import NIOPosix

/// The admin HTTP endpoint (loopback by default): `GET /status`, `GET /plugins`, `GET /metrics`
/// (Prometheus text format) and `POST /reload` (re-read the manifests, like SIGHUP). One request
/// per connection; request bodies over 4 KiB are refused with 413.
public final class AdminServer: Sendable {
    public let localEndpoint: Endpoint
    private let channel: any Channel

    /// Binds `endpoint` and serves `routes` until `close()`.
    public init(binding endpoint: Endpoint, routes: AdminRoutes, group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws {
        channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(AdminHandler(routes: routes))
                }
            }
            .bind(host: endpoint.address.description, port: Int(endpoint.port))
            .get()
        guard let local = channel.localAddress, let text = local.ipAddress, let address = IPAddress(text), let port = local.port else {
            throw AdminServerError("cannot read the admin endpoint's bound address")
        }
        localEndpoint = Endpoint(address: address, port: UInt16(port))
    }

    public func close() async {
        try? await channel.close()
    }
}

/// The admin endpoint could not be started.
public struct AdminServerError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Reads one request, asks `AdminRoutes` for the answer off the event loop, writes it and closes.
private final class AdminHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    static let maxBody = 4096
    private let routes: AdminRoutes
    private var head: HTTPRequestHead?
    private var bodyBytes = 0

    init(routes: AdminRoutes) {
        self.routes = routes
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            bodyBytes = 0
        case .body(let body):
            bodyBytes += body.readableBytes
        case .end:
            guard let head else { return }
            self.head = nil
            Self.respond(routes: routes, to: head, tooLarge: bodyBytes > Self.maxBody,
                         context: NIOLoopBound(context, eventLoop: context.eventLoop))
        }
    }

    /// Computes the answer off the event loop, then writes it on the loop.
    private static func respond(routes: AdminRoutes, to head: HTTPRequestHead, tooLarge: Bool, context: NIOLoopBound<ChannelHandlerContext>) {
        Task {
            let response = await answer(routes, method: head.method, path: head.uri, tooLarge: tooLarge)
            context.eventLoop.execute { write(response, version: head.version, context: context.value) }
        }
    }

    private static func answer(_ routes: AdminRoutes, method: HTTPMethod, path: String, tooLarge: Bool) async -> AdminResponse {
        if tooLarge { return .error(.payloadTooLarge, "request body over \(maxBody) bytes") }
        return await routes.respond(method: method, path: path)
    }

    private static func write(_ response: AdminResponse, version: HTTPVersion, context: ChannelHandlerContext) {
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: response.contentType)
        headers.add(name: "content-length", value: "\(response.body.utf8.count)")
        headers.add(name: "connection", value: "close")
        context.write(NIOAny(HTTPServerResponsePart.head(HTTPResponseHead(version: version, status: response.status, headers: headers))), promise: nil)
        context.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(context.channel.allocator.buffer(string: response.body)))), promise: nil)
        let channel = context.channel
        context.writeAndFlush(NIOAny(HTTPServerResponsePart.end(nil))).whenComplete { _ in channel.close(promise: nil) }
    }
}
