import CarrierCore
import NIOCore

/// The client's control connection after its handshake: asks for its mappings, reports what was
/// granted (with the control connection, which the UDP mappings' datagram connections live and
/// die with), passes on each `open`, pings every 15 s and closes after 45 s without a word from the
/// supernode. Completes `ended` when the connection is over.
final class ControlConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ShadowFrame
    typealias OutboundOut = ShadowFrame

    enum Outcome: Sendable {
        case refused(String)
        case closed(wasExposed: Bool, String)
    }

    static let pingInterval = TimeAmount.seconds(15)
    static let silenceLimit = Duration.seconds(45)

    private let services: [ShadowService]
    private let supernodeHost: String
    private let ended: EventLoopPromise<Outcome>
    private let exposed: @Sendable ([PublicEndpoint], Channel) -> Void
    private let open: @Sendable (UInt64, String, String) -> Void
    private var wasExposed = false
    private var lastHeard = ContinuousClock.now
    private var pinger: RepeatedTask?
    private var failure: String?

    init(services: [ShadowService], supernodeHost: String, ended: EventLoopPromise<Outcome>,
         exposed: @escaping @Sendable ([PublicEndpoint], Channel) -> Void, open: @escaping @Sendable (UInt64, String, String) -> Void) {
        self.services = services
        self.supernodeHost = supernodeHost
        self.ended = ended
        self.exposed = exposed
        self.open = open
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ShadowAuthenticated {
            let requests = services.map(\.request)
            context.writeAndFlush(wrapOutboundOut(.control(.expose(requests))), promise: nil)
            startPinging(context: context)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        lastHeard = .now
        switch unwrapInboundIn(data) {
        case .control(.exposed(let granted)) where !wasExposed:
            wasExposed = true
            exposed(granted.map { PublicEndpoint(name: $0.request.name, transport: $0.request.transport, host: supernodeHost, port: $0.port,
                                           http: $0.http, https: $0.https) },
                    context.channel)
        case .control(.refused(let reason)):
            ended.succeed(.refused(reason))
            context.close(promise: nil)
        case .control(.open(let stream, let mapping, let source)) where wasExposed:
            open(stream, mapping, source)
        case .control(.ping):
            context.writeAndFlush(wrapOutboundOut(.control(.pong)), promise: nil)
        case .control(.pong):
            break
        default:
            failure = "the supernode broke the protocol"
            context.close(promise: nil)
        }
    }

    private func startPinging(context: ChannelHandlerContext) {
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        pinger = context.eventLoop.scheduleRepeatedTask(initialDelay: Self.pingInterval, delay: Self.pingInterval) { _ in
            let (handler, context) = bound.value
            guard ContinuousClock.now - handler.lastHeard <= Self.silenceLimit else {
                handler.failure = "the supernode was silent for 45 s"
                context.close(promise: nil)
                return
            }
            context.writeAndFlush(handler.wrapOutboundOut(.control(.ping)), promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        failure = failure ?? "\(error)"
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        pinger?.cancel()
        ended.succeed(.closed(wasExposed: wasExposed, failure ?? "the supernode closed the connection"))
        context.fireChannelInactive()
    }
}
