import CarrierCore
import NIOCore
import NIOPosix

/// What one Shadow supernode answered a `query`: how long the verified answer took (connect,
/// handshake, one round trip: the latency a client will see, with the supernode's own signing
/// time in it) and how full its public ports are. The answer is sealed under the session keys, so
/// only the supernode whose id the record names can have given it.
///
/// ```swift
/// let probe = try await SupernodeProbe.probe(candidate, identity: me, group: group)
/// print(probe.roundTrip, probe.load)   // 1.4 ms, 12 (per mille)
/// ```
public struct SupernodeProbe: Sendable, Equatable {
    public var supernode: ShadowSupernode
    public var roundTrip: Duration
    /// The share of its public ports held, per mille (1000: full).
    public var load: Int

    public init(supernode: ShadowSupernode, roundTrip: Duration, load: Int) {
        self.supernode = supernode
        self.roundTrip = roundTrip
        self.load = load
    }

    /// Why a probe has no answer.
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Connects to `supernode` as `identity`, asks `query`, and waits at most `timeout` for `status`.
    public static func probe(_ supernode: ShadowSupernode, identity: KeyPair, group: EventLoopGroup,
                             timeout: Duration = .seconds(3)) async throws -> SupernodeProbe {
        let loop = group.next()
        let answered = loop.makePromise(of: Int.self)
        let started = ContinuousClock.now
        let limit = TimeAmount(timeout)
        let deadline = loop.scheduleTask(in: limit) { answered.fail(Failure(description: "no answer within \(timeout)")) }
        let connecting = ClientBootstrap(group: loop)
            .connectTimeout(limit)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([ClientHandshakeHandler(identity: identity, server: supernode.id),
                                                                     StatusAsker(answered)])
                }
            }
            .connect(host: supernode.host, port: supernode.port)
        connecting.whenFailure { answered.fail($0) }
        defer {
            deadline.cancel()
            connecting.whenSuccess { $0.close(promise: nil) }
        }
        let load = try await answered.futureResult.get()
        return SupernodeProbe(supernode: supernode, roundTrip: ContinuousClock.now - started, load: load)
    }
}

/// Sends `query` once the handshake is done and completes `promise` with the answer's load.
private final class StatusAsker: ChannelInboundHandler {
    typealias InboundIn = ShadowFrame
    typealias OutboundOut = ShadowFrame
    private let promise: EventLoopPromise<Int>

    init(_ promise: EventLoopPromise<Int>) { self.promise = promise }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ShadowAuthenticated { context.writeAndFlush(wrapOutboundOut(.control(.query)), promise: nil) }
        context.fireUserInboundEventTriggered(event)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .control(.status(let load)) = unwrapInboundIn(data) else {
            promise.fail(SupernodeProbe.Failure(description: "the supernode answered the query with something else"))
            return context.close(promise: nil)
        }
        promise.succeed(load)
        context.close(promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        promise.fail(error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(SupernodeProbe.Failure(description: "the supernode closed the connection before it answered"))
        context.fireChannelInactive()
    }
}
