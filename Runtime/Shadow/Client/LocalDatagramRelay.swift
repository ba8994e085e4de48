import NIOCore
import NIOPosix

/// The client's end of a UDP mapping: the datagram connection's `datagram(source, payload)`
/// frames go to the local service from one local UDP socket per public source, so the service
/// sees each outside sender as its own address and its answers find their way back (the socket's
/// replies return to the supernode under the same source number). A socket silent for
/// `idleSeconds` is closed; at most `maxSources` are open (a datagram from one more source is
/// dropped). It runs on the datagram connection's event loop, and so do its local sockets.
final class LocalDatagramRelay: ChannelInboundHandler {
    typealias InboundIn = ShadowFrame
    typealias OutboundOut = ShadowFrame

    static let idleSeconds: Int64 = 60
    static let maxSources = 1024
    /// Datagrams held for a source while its local socket is being opened.
    static let maxWaiting = 64

    private enum Local {
        case opening(waiting: [ByteBuffer])
        case open(Channel)
    }

    private let target: SocketAddress
    private let counted: @Sendable (_ toPublic: Int, _ fromPublic: Int) -> Void
    private var locals: [UInt32: Local] = [:]
    private var lastUsed: [UInt32: NIODeadline] = [:]
    private var sweeper: RepeatedTask?

    /// Datagrams go to `target`; `counted` gets the bytes relayed each way as they pass.
    init(target: SocketAddress, counted: @escaping @Sendable (_ toPublic: Int, _ fromPublic: Int) -> Void) {
        self.target = target
        self.counted = counted
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        sweeper = context.eventLoop.scheduleRepeatedTask(initialDelay: .seconds(10), delay: .seconds(10)) { _ in
            bound.value.closeIdleSockets()
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .datagram(let source, let payload) = unwrapInboundIn(data) else {
            context.fireErrorCaught(FrameError.malformed("a datagram connection carries datagram frames only"))
            return context.close(promise: nil)
        }
        counted(0, payload.readableBytes)
        lastUsed[source] = .now()
        switch locals[source] {
        case .open(let socket)?:
            socket.writeAndFlush(AddressedEnvelope(remoteAddress: target, data: payload), promise: nil)
        case .opening(var waiting)?:
            guard waiting.count < Self.maxWaiting else { return }
            waiting.append(payload)
            locals[source] = .opening(waiting: waiting)
        case nil:
            guard locals.count < Self.maxSources else { return }
            locals[source] = .opening(waiting: [payload])
            open(source, context: context)
        }
    }

    /// Opens the local socket of `source`, then sends what waited for it.
    private func open(_ source: UInt32, context: ChannelHandlerContext) {
        let tunnel = context.channel, target = self.target, counted = self.counted
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        DatagramBootstrap(group: context.eventLoop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(LocalReplies(source: source, from: target, tunnel: tunnel, counted: counted))
                }
            }
            .bind(host: target.protocol == .inet6 ? "::" : "0.0.0.0", port: 0)
            .whenComplete { outcome in
                let relay = bound.value
                guard case .opening(let waiting)? = relay.locals[source] else {
                    if case .success(let socket) = outcome { socket.close(promise: nil) }
                    return
                }
                switch outcome {
                case .success(let socket):
                    relay.locals[source] = .open(socket)
                    for payload in waiting { socket.write(AddressedEnvelope(remoteAddress: target, data: payload), promise: nil) }
                    socket.flush()
                case .failure:
                    relay.locals[source] = nil
                }
            }
    }

    private func closeIdleSockets() {
        let cutoff = NIODeadline.now() - .seconds(Self.idleSeconds)
        for (source, used) in lastUsed where used < cutoff {
            lastUsed[source] = nil
            if case .open(let socket)? = locals.removeValue(forKey: source) { socket.close(promise: nil) }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        sweeper?.cancel()
        for case .open(let socket) in locals.values { socket.close(promise: nil) }
        locals = [:]
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

/// One public source's local socket: the service's answers (from the service's address only)
/// go back on the datagram connection under the source's number.
private final class LocalReplies: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    private let source: UInt32
    private let service: SocketAddress
    private let tunnel: Channel
    private let counted: @Sendable (Int, Int) -> Void

    init(source: UInt32, from service: SocketAddress, tunnel: Channel, counted: @escaping @Sendable (Int, Int) -> Void) {
        self.source = source
        self.service = service
        self.tunnel = tunnel
        self.counted = counted
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        guard envelope.remoteAddress == service, envelope.data.readableBytes <= ShadowFrame.maxData - 4, tunnel.isWritable else { return }
        counted(envelope.data.readableBytes, 0)
        tunnel.write(ShadowFrame.datagram(source: source, payload: envelope.data), promise: nil)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        tunnel.flush()
    }
}
