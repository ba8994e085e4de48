import NIOCore

/// Runs `action` once its channel is active, at once if it is already, then leaves the pipeline;
/// or, if the channel closes or leaves first, runs it then (`action` checks `isActive`). A public connection
/// handed to a spare data connection starts relaying only once active: the accepted channel may
/// not be registered yet when its stream is set up, and a `read` asked for before that is lost,
/// leaving the connection unread. Runs on its channel's event loop.
final class WhenActive: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    private var action: (() -> Void)?

    init(_ action: @escaping () -> Void) {
        self.action = action
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { run(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        context.fireChannelActive()
        run(context: context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        runIfPending()
        context.fireChannelInactive()
    }

    /// A channel torn down without ever becoming active still runs it.
    func handlerRemoved(context: ChannelHandlerContext) {
        runIfPending()
    }

    private func runIfPending() {
        guard let action else { return }
        self.action = nil
        action()
    }

    private func run(context: ChannelHandlerContext) {
        guard let action else { return }
        self.action = nil
        action()
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}
