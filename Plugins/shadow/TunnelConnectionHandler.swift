import CarrierCore
import CarrierShadow
import NIOCore

/// A connection to the tunnel port after its handshake: its first frame makes it a client's
/// control connection (`expose`), a stream's data connection (`attach`), a UDP mapping's datagram
/// connection (`udp`), a spare data connection kept for the next public connection (`spare`,
/// then `adopt`), or a one-shot `query` answered with the supernode's load and closed. On a control
/// connection it answers pings and closes on silence; a data connection hands over to a
/// `SealedRelayHandler` paired with the waiting public connection.
final class TunnelConnectionHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ShadowFrame
    typealias OutboundOut = ShadowFrame

    private enum Role {
        case unknown
        case control
        case spare
        case stream
        case datagrams(Channel)
        /// Answered a `query`, closing: nothing more is served.
        case answered
    }

    private let relay: ShadowRelay
    private let count: @Sendable (String) -> Void
    private var client: Id?
    private var role = Role.unknown
    private var lastHeard = ContinuousClock.now
    private var silenceCheck: RepeatedTask?

    private var isStream: Bool {
        if case .stream = role { true } else { false }
    }

    init(relay: ShadowRelay, count: @escaping @Sendable (String) -> Void) {
        self.relay = relay
        self.count = count
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let authenticated = event as? ShadowAuthenticated { client = authenticated.peer }
        // Tunnel connections may half-close (a stream's data connection ends one way at a time);
        // a control connection, or one that never said what it is, is over when its client ends it.
        if let event = event as? ChannelEvent, event == .inputClosed, !isStream {
            context.close(promise: nil)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let client else { return context.close(promise: nil) }
        lastHeard = .now
        let frame = unwrapInboundIn(data)
        switch (role, frame) {
        case (.stream, _):
            context.fireChannelRead(data)
        case (.unknown, .control(.expose(let requests))):
            role = .control
            startSilenceCheck(context: context)
            let channel = context.channel
            relay.expose(requests, for: client, control: channel).whenSuccess { answer in
                channel.writeAndFlush(ShadowFrame.control(answer)).whenComplete { _ in
                    if case .refused = answer { channel.close(promise: nil) }
                }
            }
        case (.unknown, .control(.attach(let stream))):
            guard let stream = relay.attach(stream, client: client) else { return context.close(promise: nil) }
            relayStream(stream, client: client, context: context)
        case (.unknown, .control(.spare)):
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            guard relay.addSpare(context.channel, client: client, adopt: { stream in
                let (handler, context) = bound.value
                handler.adopt(stream, context: context)
            }) else {
                // Said so, so that the client does not dial it again.
                let channel = context.channel
                channel.writeAndFlush(ShadowFrame.control(.refused("at most \(relay.limits.sparesPerClient) spares"))).whenComplete { _ in
                    channel.close(promise: nil)
                }
                return
            }
            role = .spare
            startSilenceCheck(context: context)
        case (.spare, .control(.ping)):
            context.writeAndFlush(wrapOutboundOut(.control(.pong)), promise: nil)
        case (.unknown, .control(.query)):
            role = .answered
            count("queries")
            let channel = context.channel
            channel.writeAndFlush(ShadowFrame.control(.status(load: relay.load))).whenComplete { _ in channel.close(promise: nil) }
        case (.answered, _):
            break
        case (.unknown, .control(.udp(let mapping))):
            guard let port = relay.datagramPort(mapping, client: client) else { return context.close(promise: nil) }
            role = .datagrams(port)
            PublicDatagramHandler.attach(context.channel, to: port)
        case (.datagrams(let port), .datagram(let source, let payload)):
            port.write(DatagramToSource(source: source, payload: payload), promise: nil)
        case (.control, .control(.ping)):
            context.writeAndFlush(wrapOutboundOut(.control(.pong)), promise: nil)
        case (.control, .control(.pong)):
            break
        default:
            count("refused_protocol")
            context.close(promise: nil)
        }
    }

    /// Makes this connection the data connection of `stream`.
    private func relayStream(_ stream: ShadowRelay.PublicStream, client: Id, context: ChannelHandlerContext) {
        role = .stream
        let dataChannel = context.channel, publicChannel = stream.publicChannel, budgets = stream.budgets, billing = stream.billing
        let sealed = SealedRelayHandler(partner: publicChannel) { bytes in billing.ended(bytes: bytes) }
        do {
            try context.pipeline.syncOperations.addHandler(sealed, position: .after(self))
            if !budgets.isEmpty { try context.pipeline.syncOperations.addHandler(ReadThrottle(budgets: budgets), position: .first) }
        } catch {
            publicChannel.close(promise: nil)
            return context.close(promise: nil)
        }
        publicChannel.eventLoop.execute { stream.plain.value.attach(to: dataChannel) }
    }

    /// A spare taken for a public connection (on this connection's event loop): the client hears
    /// `open` here, then the stream's bytes. A spare that went meanwhile hands the stream to the
    /// control connection's `open`, as without spares.
    private func adopt(_ stream: ShadowRelay.PublicStream, context: ChannelHandlerContext) {
        guard let client else { return stream.publicChannel.close(promise: nil) }
        guard case .spare = role, context.channel.isActive else { return relay.openOnControl(stream, client: client) }
        // The public connection went before it was relayed: this spare closes (the client replaces it).
        guard stream.publicChannel.isActive else { return context.close(promise: nil) }
        silenceCheck?.cancel()
        context.writeAndFlush(wrapOutboundOut(stream.open), promise: nil)
        relayStream(stream, client: client, context: context)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if case .datagrams(let port) = role { port.flush() }
        context.fireChannelReadComplete()
    }

    private func startSilenceCheck(context: ChannelHandlerContext) {
        let limit = Duration.seconds(relay.limits.silenceSeconds)
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        silenceCheck = context.eventLoop.scheduleRepeatedTask(initialDelay: .seconds(5), delay: .seconds(5)) { _ in
            let (handler, context) = bound.value
            if ContinuousClock.now - handler.lastHeard > limit { context.close(promise: nil) }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        silenceCheck?.cancel()
        if case .control = role, let client { relay.controlClosed(context.channel, client: client) }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let error = error as? HandshakeError {
            count("refused_" + error.counterName)
        } else if error is FrameError {
            count("refused_frames")
        } else if error is HandshakeTimeout {
            count("refused_handshake_timeout")
        }
        context.close(promise: nil)
    }
}
