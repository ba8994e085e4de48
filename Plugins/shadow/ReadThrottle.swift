import NIOCore

/// Meters what a connection reads against its byte budgets (its client's and its mapping's) and,
/// while one is overdrawn, holds the connection's next `read` until the debt is repaid. Bytes
/// already read pass on untouched; TCP's own flow control slows the sender while reads wait.
/// It is the first handler of a stream's public connection and of its data connection, so each
/// direction of the stream is paced where it enters the supernode.
///
/// The relay's own backpressure holds `read` in the same way (`StreamRelaySide`); each holds its
/// own, and a read this throttle lets go on its timer is one read loop (one buffer) at most. The
/// first read of a public connection skips it (SwiftNIO starts reading when `autoRead` turns
/// on), so each new stream may overdraw its budgets by one buffer. Runs on its channel's event
/// loop.
final class ReadThrottle: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer

    private let budgets: [ByteBudget]
    private var heldRead: Scheduled<Void>?

    init(budgets: [ByteBudget]) {
        self.budgets = budgets
    }

    /// One socket read per read loop: SwiftNIO otherwise reads several buffers (up to 64 KiB
    /// each) per `read`, all of them past a budget that the first one overdrew.
    func handlerAdded(context: ChannelHandlerContext) {
        context.channel.setOption(ChannelOptions.maxMessagesPerRead, value: 1).whenFailure { _ in }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        _ = budgets.spend(unwrapInboundIn(data).readableBytes)
        context.fireChannelRead(data)
    }

    /// Reads on unless a budget is overdrawn now (by this connection or by any other spending it).
    func read(context: ChannelHandlerContext) {
        let wait = budgets.spend(0)
        guard wait > .zero else { return context.read() }
        guard heldRead == nil else { return }
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        heldRead = context.eventLoop.scheduleTask(in: wait) {
            let (throttle, context) = bound.value
            throttle.heldRead = nil
            throttle.read(context: context)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        heldRead?.cancel()
        heldRead = nil
        context.fireChannelInactive()
    }
}
