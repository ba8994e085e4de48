import NIOCore
import NIOHTTP1
import NIOWebSocket

/// Collects one request (a body of at most `limits.maxBody`), hands it to `respond` off the event
/// loop and writes the answer; NIO's pipeline handler before it keeps pipelined requests in order,
/// one answer at a time. A request that ends while the client leaves earlier answers unread (the
/// channel unwritable) waits until it reads them, so a client that pipelines without reading
/// costs one read and one answer, until the guard's write-stall deadline closes it. A target that does not parse is answered 400 and a body over the limit
/// 413, at once and with the connection closed, by the connection's `ConnectionGuard`.
final class HTTPRequestHandler: ChannelInboundHandler, RemovableChannelHandler, @unchecked Sendable {
    // @unchecked: every field is touched on the channel's event loop only.
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let respond: @Sendable (HTTPRequest) async -> HTTPAnswer
    private let connections: ServerConnections
    private let connectionGuard: ConnectionGuard
    private let limits: HTTPServerLimits
    private let counters: HTTPServerCounters
    private var head: HTTPRequestHead?
    private var target: RequestTarget?
    private var body: [UInt8] = []
    /// Set once the request was refused: what else arrives on the connection is ignored.
    private var refused = false
    /// A complete request held until the channel is writable again.
    private var waiting: HTTPRequestHead?

    init(respond: @escaping @Sendable (HTTPRequest) async -> HTTPAnswer, connections: ServerConnections, connectionGuard: ConnectionGuard,
         limits: HTTPServerLimits, counters: HTTPServerCounters) {
        self.respond = respond
        self.connections = connections
        self.connectionGuard = connectionGuard
        self.limits = limits
        self.counters = counters
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !refused else { return }
        switch unwrapInboundIn(data) {
        case .head(let head):
            connectionGuard.headReceived()
            if let length = head.headers.first(name: "Content-Length").flatMap(Int.init), length > limits.maxBody {
                return refuse(.bodyTooLarge, .payloadTooLarge, "the body is over \(limits.maxBody) bytes")
            }
            do {
                target = try RequestTarget(parsing: head.uri)
            } catch {
                return refuse(.badTarget, .badRequest, "\(error)")
            }
            self.head = head
            body = []
        case .body(let buffer):
            connectionGuard.bodyReceived(buffer.readableBytes)
            guard body.count + buffer.readableBytes <= limits.maxBody else {
                return refuse(.bodyTooLarge, .payloadTooLarge, "the body is over \(limits.maxBody) bytes")
            }
            body += buffer.readableBytesView
        case .end:
            guard let head else { return }
            self.head = nil
            connectionGuard.requestEnded()
            if context.channel.isWritable { answer(head, context: context) } else { waiting = head }
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable, let head = waiting {
            waiting = nil
            answer(head, context: context)
        }
        context.fireChannelWritabilityChanged()
    }

    /// Hands the request to `respond` off the event loop, and writes its answer back on it.
    private func answer(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        guard let target else { return }
        let keepAlive = head.isKeepAlive, loop = context.eventLoop, bound = NIOLoopBound(context, eventLoop: loop)
        // A HEAD is answered as its GET would be, without the body.
        let headOnly = head.method == .HEAD
        let request = HTTPRequest(method: headOnly ? .GET : head.method, path: target.path, query: target.query,
                                  accept: head.headers.first(name: "Accept") ?? "", remote: context.channel.remoteAddress?.ipAddress ?? "",
                                  authorization: head.headers.first(name: "Authorization") ?? "", body: body)
        body = []
        let respond = self.respond, connections = self.connections
        Task {
            await connections.answer {
                var answer = await respond(request)
                if headOnly { answer.stream = nil }
                loop.execute { self.write(answer, keepAlive: keepAlive, headOnly: headOnly, context: bound.value) }
            }
        }
    }

    /// NIO's parser refused the bytes; its error handler answers 400 and closes.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // An upgrade the WebSocket endpoint declined (another path, a body, a bad key): NIO passes
        // the request on as a plain one, which is answered.
        if error is NIOWebSocketUpgradeError { return }
        if error is HTTPParserError { counters.count(.malformedRequest) }
        context.close(promise: nil)
    }

    private func refuse(_ reason: HTTPServerCounters.Refusal, _ status: HTTPResponseStatus, _ message: String) {
        refused = true
        head = nil
        body = []
        connectionGuard.refuse(reason, status, message)
    }

    private func write(_ answer: HTTPAnswer, keepAlive: Bool, headOnly: Bool, context: ChannelHandlerContext) {
        guard context.channel.isActive else { return }
        if let stream = answer.stream {
            // The stream holds the connection until one side closes it.
            connectionGuard.stopWatching()
            let headers = HTTPHeaders([("Content-Type", answer.contentType), ("Transfer-Encoding", "chunked"),
                                       ("Access-Control-Allow-Origin", "*"), ("Connection", "close")] + answer.headers)
            context.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: answer.status, headers: headers))), promise: nil)
            let writer = HTTPStream(channel: context.channel), connections = self.connections
            Task {
                await connections.answer { await stream(writer) }
                writer.finish()
            }
            return
        }
        var headers = HTTPHeaders([("Content-Type", answer.contentType), ("Content-Length", "\(answer.body.utf8.count)"),
                                   ("Access-Control-Allow-Origin", "*")])
        headers.add(name: "Connection", value: keepAlive ? "keep-alive" : "close")
        if let retryAfter = answer.retryAfter { headers.add(name: "Retry-After", value: "\(retryAfter)") }
        for header in answer.headers { headers.add(name: header.name, value: header.value) }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: answer.status, headers: headers))), promise: nil)
        if !headOnly {
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: answer.body)))), promise: nil)
        }
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
            if !keepAlive { channel.close(promise: nil) }
        }
        connectionGuard.answerEnded()
    }
}
