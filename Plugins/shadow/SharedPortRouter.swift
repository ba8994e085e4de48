import CarrierShadow
import NIOCore

/// The first handler of a connection to a shared port: the HTTP port, routed by `Host`, or the
/// TLS port, routed by the ClientHello's server name (`SharedPortReading`). It reads the first
/// bytes (at most `reading.maxBytes`, within `firstBytesSeconds`), takes the name, and hands the
/// connection with the bytes read so far to `route`, which relays it like a connection to the
/// mapping's own port (whose checks then apply: sources, rate, cap). What it cannot route gets
/// the reading's refusal (an HTTP status or a TLS alert) and is counted as
/// `<kind>_malformed`, `<kind>_unknown_host` or `<kind>_timeout`; a routed one as `<kind>_routed`.
///
/// A connection is routed once, by its first bytes: later HTTP requests on a kept-alive
/// connection go to the same mapping whatever their `Host` (a browser keeps a connection per
/// host). Runs on its channel's event loop.
final class SharedPortRouter: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    static let firstBytesSeconds: Int64 = 10

    /// What became of a routed connection.
    enum Routed {
        /// A mapping took the connection.
        case accepted
        /// The mapping's checks refused it (and closed it).
        case refused
        /// No connected client holds the name.
        case unknown
    }

    /// Where a connection goes, given its name and the bytes read so far.
    typealias Route = (_ name: String, _ channel: Channel, _ head: ByteBuffer) -> Routed

    private let reading: SharedPortReading
    private let route: Route
    private let count: @Sendable (String) -> Void
    private let finished: @Sendable () -> Void
    private var head: ByteBuffer?
    private var timeout: Scheduled<Void>?
    private var done = false

    /// `finished` is called once, when the connection leaves the router (routed, refused, or gone).
    init(_ reading: SharedPortReading, count: @escaping @Sendable (String) -> Void, finished: @escaping @Sendable () -> Void,
         route: @escaping Route) {
        self.reading = reading
        self.count = count
        self.finished = finished
        self.route = route
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timeout = context.eventLoop.scheduleTask(in: .seconds(Self.firstBytesSeconds)) {
            let (router, context) = bound.value
            router.refuse(.timeout, context: context)
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
        switch reading.name(head.readableBytesView) {
        case .needMore:
            guard head.readableBytes < reading.maxBytes else { return refuse(.tooLarge, context: context) }
            context.read()
        case .malformed:
            refuse(.malformed, context: context)
        case .tooLarge:
            refuse(.tooLarge, context: context)
        case .name(let name):
            leave(context: context)
            let channel = context.channel
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            switch route(name, channel, head) {
            case .accepted: count("\(reading.kind)_routed")
            case .refused: break
            case .unknown:
                count("\(reading.kind)_unknown_host")
                try? channel.pipeline.syncOperations.addHandler(LingeringRefusal(reading.refusal(.unknown(name))))
            }
        }
    }

    /// Answers `refusal` in place of the router, which leaves.
    private func refuse(_ refusal: SharedPortReading.Refusal, context: ChannelHandlerContext) {
        guard !done else { return }
        leave(context: context)
        count("\(reading.kind)_\(refusal == .timeout ? "timeout" : "malformed")")
        let handlers = context.pipeline.syncOperations
        handlers.removeHandler(context: context, promise: nil)
        try? handlers.addHandler(LingeringRefusal(reading.refusal(refusal)))
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
