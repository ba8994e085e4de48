import NIOCore

/// Closes a public connection that carried no byte either way for `idle`, or that has been open
/// for `total` (either may be nil: no limit), and says which (`expired("closed_idle")` or
/// `expired("closed_duration")`). It sits in the public connection's pipeline, where it sees the
/// bytes read from the outside and those written to it. Runs on its channel's event loop.
final class StreamDeadlines: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer

    private let idle: TimeAmount?
    private let total: TimeAmount?
    private let expired: @Sendable (String) -> Void
    private var lastActivity = NIODeadline.now()
    private var idleCheck: Scheduled<Void>?
    private var totalCheck: Scheduled<Void>?

    init(idle: TimeAmount?, total: TimeAmount?, expired: @escaping @Sendable (String) -> Void) {
        self.idle = idle
        self.total = total
        self.expired = expired
    }

    func handlerAdded(context: ChannelHandlerContext) {
        lastActivity = .now()
        if let idle { scheduleIdleCheck(at: lastActivity + idle, context: context) }
        if let total {
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            totalCheck = context.eventLoop.scheduleTask(in: total) {
                let (deadlines, context) = bound.value
                deadlines.expire("closed_duration", context: context)
            }
        }
    }

    private func scheduleIdleCheck(at deadline: NIODeadline, context: ChannelHandlerContext) {
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        idleCheck = context.eventLoop.scheduleTask(deadline: deadline) {
            let (deadlines, context) = bound.value
            guard let idle = deadlines.idle else { return }
            let due = deadlines.lastActivity + idle
            if due <= .now() { deadlines.expire("closed_idle", context: context) } else { deadlines.scheduleIdleCheck(at: due, context: context) }
        }
    }

    private func expire(_ reason: String, context: ChannelHandlerContext) {
        guard context.channel.isActive else { return }
        expired(reason)
        context.close(promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        lastActivity = .now()
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        lastActivity = .now()
        context.write(data, promise: promise)
    }

    func channelInactive(context: ChannelHandlerContext) {
        idleCheck?.cancel()
        totalCheck?.cancel()
        context.fireChannelInactive()
    }
}
