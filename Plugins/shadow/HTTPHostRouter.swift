import CarrierShadow
import NIOCore

/// The first handler of a connection to the shared HTTP port: reads the request head (at most
/// `maxHead` bytes, within `headSeconds`), takes its `Host`, and hands the connection with the
/// bytes read so far to `route`, which relays it like a connection to the mapping's own port.
/// Requests it cannot route get a short HTTP answer and the connection closes: 400 for a head
/// that does not parse or has no single `Host`, 431 for a head over the limit, 404 for a host
/// no client holds, 408 for one that does not arrive in time.
///
/// A connection is routed once, by its first request: later requests on a kept-alive
/// connection go to the same mapping whatever their `Host` (a browser keeps a connection per
/// host). Runs on its channel's event loop.
final class HTTPHostRouter: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    static let maxHead = 16_384
    static let headSeconds: Int64 = 10

    /// Where a connection goes: true when a mapping took it (the router then leaves the pipeline).
    typealias Route = (_ host: String, _ channel: Channel, _ head: ByteBuffer) -> Bool

    private let route: Route
    private let count: @Sendable (String) -> Void
    private var head: ByteBuffer?
    private var timeout: Scheduled<Void>?

    init(count: @escaping @Sendable (String) -> Void, route: @escaping Route) {
        self.count = count
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
        var bytes = unwrapInboundIn(data)
        if head == nil { head = bytes } else { head!.writeBuffer(&bytes) }
        guard let head else { return }
        let view = head.readableBytesView
        guard let end = HTTPHead.end(of: view) else {
            if head.readableBytes >= Self.maxHead { return refuse(431, "Request Header Fields Too Large", "http_malformed", context: context) }
            return context.read()
        }
        guard end <= Self.maxHead, let host = HTTPHead.host(in: Array(view.prefix(end))) else {
            return refuse(400, "Bad Request", "http_malformed", context: context)
        }
        timeout?.cancel()
        self.head = nil
        let channel = context.channel
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        if route(host, channel, head) {
            count("http_routed")
        } else {
            sendAnswer(404, "Not Found", body: "no service at \(host)\n", channel: channel)
            count("http_unknown_host")
        }
    }

    private func refuse(_ status: Int, _ reason: String, _ counter: String, context: ChannelHandlerContext) {
        timeout?.cancel()
        head = nil
        count(counter)
        sendAnswer(status, reason, body: "\(reason)\n", channel: context.channel)
    }

    private func sendAnswer(_ status: Int, _ reason: String, body: String, channel: Channel) {
        let answer = "HTTP/1.1 \(status) \(reason)\r\ncontent-type: text/plain\r\ncontent-length: \(body.utf8.count)\r\nconnection: close\r\n\r\n\(body)"
        channel.writeAndFlush(ByteBuffer(string: answer)).whenComplete { _ in channel.close(promise: nil) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        timeout?.cancel()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
