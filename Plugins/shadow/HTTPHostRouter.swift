import CarrierShadow
import NIOCore

/// The first handler of a connection to the shared HTTP port: reads the request head (at most
/// `maxHead` bytes, within `headSeconds`), takes its `Host`, and hands the connection with the
/// bytes read so far to `route`, which relays it like a connection to the mapping's own port
/// (whose checks then apply: sources, rate, cap). Requests it cannot route get a short HTTP
/// answer (`HTTPRefusal`): 400 for a head that does not parse or has no single `Host`, 431 for a
/// head over the limit, 404 for a host no client holds, 408 for one that does not arrive in time.
///
/// A connection is routed once, by its first request: later requests on a kept-alive
/// connection go to the same mapping whatever their `Host` (a browser keeps a connection per
/// host). Runs on its channel's event loop.
final class HTTPHostRouter: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    static let maxHead = 16_384
    static let headSeconds: Int64 = 10

    /// What became of a routed head.
    enum Routed {
        /// A mapping took the connection.
        case accepted
        /// The mapping's checks refused it (and closed it).
        case refused
        /// No connected client holds the host.
        case unknown
    }

    /// Where a connection goes, given its host and the bytes read so far.
    typealias Route = (_ host: String, _ channel: Channel, _ head: ByteBuffer) -> Routed

    private let route: Route
    private let count: @Sendable (String) -> Void
    private let finished: @Sendable () -> Void
    private var head: ByteBuffer?
    private var timeout: Scheduled<Void>?
    private var done = false

    /// `finished` is called once, when the connection leaves the router (routed, refused, or gone).
    init(count: @escaping @Sendable (String) -> Void, finished: @escaping @Sendable () -> Void, route: @escaping Route) {
        self.count = count
        self.finished = finished
        self.route = route
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timeout = context.eventLoop.scheduleTask(in: .seconds(Self.headSeconds)) {
            let (router, context) = bound.value
            router.refuse(408, "Request Timeout", "http_timeout", context: context)
        }
        if context.channel.isActive { context.read() }
    }

    func channelActive(context: ChannelHandlerContext) {
        context.read()
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !done else { return }
        var bytes = unwrapInboundIn(data)
        if head == nil { head = bytes } else { head!.writeBuffer(&bytes) }
        guard let head else { return }
        let view = head.readableBytesView
        guard let end = HTTPHead.end(of: view), end <= Self.maxHead else {
            if head.readableBytes >= Self.maxHead { return refuse(431, "Request Header Fields Too Large", "http_malformed", context: context) }
            return context.read()
        }
        guard let host = HTTPHead.host(in: Array(view.prefix(end))) else {
            return refuse(400, "Bad Request", "http_malformed", context: context)
        }
        leave(context: context)
        let channel = context.channel
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        switch route(host, channel, head) {
        case .accepted: count("http_routed")
        case .refused: break
        case .unknown:
            count("http_unknown_host")
            try? channel.pipeline.syncOperations.addHandler(HTTPRefusal(404, "Not Found", body: "no service at \(host)\n"))
        }
    }

    /// Answers `status` in place of the router, which leaves.
    private func refuse(_ status: Int, _ reason: String, _ counter: String, context: ChannelHandlerContext) {
        guard !done else { return }
        leave(context: context)
        count(counter)
        let handlers = context.pipeline.syncOperations
        handlers.removeHandler(context: context, promise: nil)
        try? handlers.addHandler(HTTPRefusal(status, reason, body: "\(reason)\n"))
    }

    private func leave(context: ChannelHandlerContext) {
        done = true
        head = nil
        timeout?.cancel()
        finished()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !done { leave(context: context) }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

/// An HTTP error answer, then a lingering close: the output is shut once the answer is written,
/// and what the client still sends is read and discarded until it ends (or for 2 s), so that
/// closing with unread bytes does not reset the connection before the client reads the answer.
final class HTTPRefusal: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let answer: String
    private var deadline: Scheduled<Void>?

    init(_ status: Int, _ reason: String, body: String) {
        answer = "HTTP/1.1 \(status) \(reason)\r\ncontent-type: text/plain\r\ncontent-length: \(body.utf8.count)\r\nconnection: close\r\n\r\n\(body)"
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let channel = context.channel
        channel.writeAndFlush(ByteBuffer(string: answer)).whenComplete { _ in channel.close(mode: .output, promise: nil) }
        deadline = context.eventLoop.scheduleTask(in: .seconds(2)) { channel.close(promise: nil) }
        context.read()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}

    func channelReadComplete(context: ChannelHandlerContext) {
        context.read()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed { context.close(promise: nil) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadline?.cancel()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
