import NIOCore

/// An answer to a connection that is not routed (an HTTP error, a TLS alert), then a lingering
/// close: the output is shut once the answer is written, and what the client still sends is read
/// and discarded until it ends (or for 2 s), so that closing with unread bytes does not reset the
/// connection before the client reads the answer.
final class LingeringRefusal: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let answer: [UInt8]
    private var deadline: Scheduled<Void>?

    init(_ answer: [UInt8]) {
        self.answer = answer
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let channel = context.channel
        channel.writeAndFlush(ByteBuffer(bytes: answer)).whenComplete { _ in channel.close(mode: .output, promise: nil) }
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
