import NIOCore

/// A spare data connection on the client (docs/shadow.md, "Streams"): it said `spare` and waits
/// for the supernode to hand it a public connection with `open`. Then it reports the `open`,
/// holds the connection's reads and keeps what else arrives until `release` hands the connection
/// to the stream's relay. Anything but `open` first is a protocol error. Runs on its channel's
/// event loop.
final class SpareConnectionHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ShadowFrame
    typealias InboundOut = ShadowFrame
    typealias OutboundIn = ShadowFrame

    private let opened: (_ stream: UInt64, _ mapping: String, _ source: String) -> Void
    private var isOpen = false
    private var held: [ShadowFrame] = []
    private var inputClosed = false
    private var readHeld = false
    private var context: ChannelHandlerContext?

    /// `opened` runs on the event loop when the supernode announces the stream.
    init(opened: @escaping (_ stream: UInt64, _ mapping: String, _ source: String) -> Void) {
        self.opened = opened
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        guard isOpen else {
            guard case .control(.open(let stream, let mapping, let source)) = frame else { return context.close(promise: nil) }
            isOpen = true
            return opened(stream, mapping, source)
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

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
