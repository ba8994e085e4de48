import NIOCore

/// A spare data connection on the client (docs/shadow.md, "Streams"): it said `spare` and waits
/// for the supernode to hand it a public connection with `open`, pinging every 15 s meanwhile and
/// closing after 45 s without a word (a spare a NAT dropped must not be kept). Then it reports the
/// `open`, holds the connection's reads and keeps what else arrives until `release` hands the
/// connection to the stream's relay. `refused` (the supernode keeps no more spares) closes it and
/// says so (`wasRefused`); anything else first is a protocol error. Runs on its channel's event
/// loop.
final class SpareConnectionHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ShadowFrame
    typealias InboundOut = ShadowFrame
    typealias OutboundIn = ShadowFrame
    typealias OutboundOut = ShadowFrame

    private let opened: (_ stream: UInt64, _ mapping: String, _ source: String) -> Void
    private(set) var isOpen = false
    /// The supernode refused the spare: the session adds no more.
    private(set) var wasRefused = false
    private var held: [ShadowFrame] = []
    private var inputClosed = false
    private var readHeld = false
    private var context: ChannelHandlerContext?
    private var lastHeard = ContinuousClock.now
    private var pinger: RepeatedTask?

    /// `opened` runs on the event loop when the supernode announces the stream.
    init(opened: @escaping (_ stream: UInt64, _ mapping: String, _ source: String) -> Void) {
        self.opened = opened
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        pinger = context.eventLoop.scheduleRepeatedTask(initialDelay: ControlConnectionHandler.pingInterval,
                                                        delay: ControlConnectionHandler.pingInterval) { _ in
            let (handler, context) = bound.value
            guard ContinuousClock.now - handler.lastHeard <= ControlConnectionHandler.silenceLimit else { return context.close(promise: nil) }
            context.writeAndFlush(handler.wrapOutboundOut(.control(.ping)), promise: nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        guard isOpen else {
            lastHeard = .now
            switch frame {
            case .control(.open(let stream, let mapping, let source)):
                isOpen = true
                pinger?.cancel()
                opened(stream, mapping, source)
            case .control(.pong):
                break
            case .control(.refused):
                wasRefused = true
                context.close(promise: nil)
            default:
                context.close(promise: nil)
            }
            return
        }
        held.append(frame)
    }

    /// Reads pass while the connection waits for `open`, and are held from then until `release`.
    func read(context: ChannelHandlerContext) {
        guard !isOpen else {
            readHeld = true
            return
        }
        context.read()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            guard isOpen else { return context.close(promise: nil) }
            inputClosed = true
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// Passes what arrived after `open` to the handlers after this one (the stream's relay, added
    /// already), then leaves the pipeline. Call it on the channel's event loop.
    func release() {
        guard let context else { return }
        context.eventLoop.preconditionInEventLoop()
        for frame in held { context.fireChannelRead(wrapInboundOut(frame)) }
        if !held.isEmpty { context.fireChannelReadComplete() }
        held = []
        if inputClosed { context.fireUserInboundEventTriggered(ChannelEvent.inputClosed) }
        if readHeld { context.read() }
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        pinger?.cancel()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
