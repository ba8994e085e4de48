import CarrierCore
import NIOCore
import NIOHTTP1
import NIOPosix

/// One HTTP request as the routes see it: method, path (without the query), query items, body.
struct HTTPRequest: Sendable {
    let method: HTTPMethod
    let path: String
    let query: [String: String]
    let body: [UInt8]
}

/// One answer: a status and a JSON body.
struct HTTPAnswer: Sendable {
    let status: HTTPResponseStatus
    let body: String

    static func json(_ body: String, _ status: HTTPResponseStatus = .ok) -> HTTPAnswer {
        HTTPAnswer(status: status, body: body)
    }
}

/// A small HTTP/1.1 server on SwiftNIO: requests are read whole (bodies over `maxBody` are
/// refused with 413 before they are buffered), handed to `respond` off the event loop, and
/// answered with keep-alive as the client asks.
final class HTTPServer: Sendable {
    static let maxBody = 65_536
    let group: MultiThreadedEventLoopGroup
    let channel: Channel

    init(host: String, port: Int, respond: @escaping @Sendable (HTTPRequest) async -> HTTPAnswer) throws {
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        do {
            channel = try ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 256)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                        try channel.pipeline.syncOperations.addHandler(RequestHandler(respond: respond))
                    }
                }
                .bind(host: host, port: port).wait()
        } catch {
            try? group.syncShutdownGracefully()
            throw error
        }
    }

    /// The port it listens on.
    var port: Int { channel.localAddress?.port ?? 0 }

    func close() {
        try? channel.close().wait()
        try? group.syncShutdownGracefully()
    }
}

/// Collects one request, then writes the answer `respond` gives.
private final class RequestHandler: ChannelInboundHandler, @unchecked Sendable {
    // @unchecked: every field is touched on the channel's event loop only.
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let respond: @Sendable (HTTPRequest) async -> HTTPAnswer
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []
    private var tooLarge = false

    init(respond: @escaping @Sendable (HTTPRequest) async -> HTTPAnswer) {
        self.respond = respond
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body = []
            tooLarge = false
        case .body(var buffer):
            guard !tooLarge else { return }
            if body.count + buffer.readableBytes > HTTPServer.maxBody {
                tooLarge = true
                body = []
            } else {
                body += buffer.readBytes(length: buffer.readableBytes) ?? []
            }
        case .end:
            guard let head else { return }
            let keepAlive = head.isKeepAlive, loop = context.eventLoop, bound = NIOLoopBound(context, eventLoop: loop)
            if tooLarge {
                write(ProxyRoutes.error(.payloadTooLarge, code: ErrorCode.messageTooBig.rawValue, "the body is over \(HTTPServer.maxBody) bytes"),
                      keepAlive: false, context: context)
                return
            }
            let (path, query) = Self.split(head.uri)
            let request = HTTPRequest(method: head.method, path: path, query: query, body: body)
            let respond = self.respond
            Task {
                let answer = await respond(request)
                loop.execute { self.write(answer, keepAlive: keepAlive, context: bound.value) }
            }
        }
    }

    private func write(_ answer: HTTPAnswer, keepAlive: Bool, context: ChannelHandlerContext) {
        var headers = HTTPHeaders([("Content-Type", "application/json"), ("Content-Length", "\(answer.body.utf8.count)"),
                                   ("Access-Control-Allow-Origin", "*")])
        headers.add(name: "Connection", value: keepAlive ? "keep-alive" : "close")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: answer.status, headers: headers))), promise: nil)
        var buffer = context.channel.allocator.buffer(capacity: answer.body.utf8.count)
        buffer.writeString(answer.body)
        context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
            if !keepAlive { context.close(promise: nil) }
        }
    }

    /// `/v1/values/X?cas=3` → ("/v1/values/X", ["cas": "3"]).
    private static func split(_ uri: String) -> (String, [String: String]) {
        let parts = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        var query: [String: String] = [:]
        if parts.count == 2 {
            for item in parts[1].split(separator: "&") {
                let pair = item.split(separator: "=", maxSplits: 1)
                query[String(pair[0])] = pair.count == 2 ? String(pair[1]) : ""
            }
        }
        return (String(parts[0]), query)
    }
}
