import CarrierCore
import NIOCore
import NIOPosix
import Synchronization

/// The node's end of Shadow: keeps `services` exposed through one supernode, reconnecting with
/// backoff and jitter when the connection drops, and relays each public connection the supernode
/// announces to its local service, and each UDP mapping's datagrams over a datagram connection.
///
/// ```swift
/// let client = ShadowClient(identity: me, supernode: chosen, services: [web], group: group)
/// let ended = await client.run { event in print(event) }   // until cancelled, or given up
/// ```
public final class ShadowClient: Sendable {
    /// What happens, for a UI or a log.
    public enum Event: Sendable, Equatable {
        case exposed([PublicEndpoint])
        /// The connection ended; the next try is in `retryIn`.
        case disconnected(reason: String, retryIn: Duration)
        case streamOpened(mapping: String, source: String)
        case streamClosed(mapping: String)
    }

    /// Why `run` returned.
    public enum Ended: Sendable, Equatable {
        case cancelled
        /// The supernode refused the mappings (its reason): try another one.
        case refused(String)
        /// `giveUpAfter` tries in a row failed: try another supernode.
        case unreachable(String)
    }

    /// Live figures.
    public struct Statistics: Sendable, Equatable {
        public var openStreams = 0
        public var streams = 0
        public var bytesToPublic = 0
        public var bytesFromPublic = 0
    }

    public let identity: KeyPair
    public let supernode: ShadowSupernode
    public let services: [ShadowService]
    private let group: EventLoopGroup
    private let delays: ReconnectDelays
    private let giveUpAfter: Int?
    private let spares: Int
    private let figures = Mutex(Statistics())
    /// The current session's control connection, its spares waiting or being dialed, and whether
    /// it may add more (not once the supernode closed one unused: it keeps no more).
    private let spareSession = Mutex<(control: Channel, waiting: Int, mayGrow: Bool)?>(nil)
    /// The most spares a session grows to when public connections find none ready.
    public static let maxSpares = 8

    /// `giveUpAfter`: failed tries in a row after which `run` returns `.unreachable` (nil: never).
    /// `spares`: data connections kept ready while exposed, so that a public connection does not
    /// wait for a new one's handshake (0, the default: none; the supernode may keep fewer). Each
    /// public connection that finds none ready adds one, up to `maxSpares`. Off by default: with
    /// spares, a byte-rate cap has been seen overshot by up to a fifth in a two-stream test, not
    /// yet explained (docs/shadow.md, section 5).
    public init(identity: KeyPair, supernode: ShadowSupernode, services: [ShadowService], group: EventLoopGroup,
                delays: ReconnectDelays = ReconnectDelays(), giveUpAfter: Int? = nil, spares: Int = 0) {
        self.identity = identity
        self.supernode = supernode
        self.services = services
        self.group = group
        self.delays = delays
        self.giveUpAfter = giveUpAfter
        self.spares = spares
    }

    public var statistics: Statistics { figures.withLock { $0 } }

    /// Keeps the services exposed until the task is cancelled, the supernode refuses, or
    /// `giveUpAfter` tries fail in a row. A connection that lasted a minute resets the backoff.
    public func run(_ events: @escaping @Sendable (Event) -> Void = { _ in }) async -> Ended {
        // Tries since the last connection that lasted a minute (the backoff), and tries in a row
        // that were never exposed (giving up).
        var failures = 0, unexposed = 0
        while !Task.isCancelled {
            let started = ContinuousClock.now
            let outcome = await session(events)
            if Task.isCancelled { return .cancelled }
            let reason: String
            switch outcome {
            case .refused(let why):
                return .refused(why)
            case .lost(let wasExposed, let why):
                reason = why
                failures = ContinuousClock.now - started >= .seconds(60) ? 0 : failures + 1
                unexposed = wasExposed ? 0 : unexposed + 1
            }
            if let giveUpAfter, unexposed >= giveUpAfter { return .unreachable(reason) }
            let wait = delays.delay(attempt: max(0, failures - 1))
            events(.disconnected(reason: reason, retryIn: wait))
            do { try await Task.sleep(for: wait) } catch { return .cancelled }
        }
        return .cancelled
    }

    private enum SessionOutcome {
        case refused(String)
        case lost(wasExposed: Bool, String)
    }

    /// One control connection, from connect to close.
    private func session(_ events: @escaping @Sendable (Event) -> Void) async -> SessionOutcome {
        let ended = group.next().makePromise(of: ControlConnectionHandler.Outcome.self)
        let identity = self.identity, server = supernode.id, services = self.services, host = supernode.host
        let connecting = ClientBootstrap(group: group)
            .connectTimeout(.seconds(10))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let control = ControlConnectionHandler(services: services, supernodeHost: host, ended: ended,
                                                           exposed: { [weak self] endpoints, control in
                                                               events(.exposed(endpoints))
                                                               self?.openDatagramConnections(control: control)
                                                               self?.keepSpares(control: control, events: events)
                                                           },
                                                           open: { [weak self] stream, mapping, source in
                                                               self?.openStream(stream, mapping: mapping, source: source, spare: nil, events: events)
                                                               self?.addSpareWhenShort(events: events)
                                                           })
                    try channel.pipeline.syncOperations.addHandlers([ClientHandshakeHandler(identity: identity, server: server), control])
                }
            }
            .connect(host: supernode.host, port: supernode.port)
        let channel: Channel
        do {
            channel = try await connecting.get()
        } catch {
            ended.fail(error)
            return .lost(wasExposed: false, "cannot connect to \(supernode.host):\(supernode.port): \(error)")
        }
        let outcome = await withTaskCancellationHandler {
            try? await ended.futureResult.get()
        } onCancel: {
            channel.close(promise: nil)
        }
        channel.close(promise: nil)
        switch outcome {
        case .refused(let reason)?: return .refused(reason)
        case .closed(let wasExposed, let reason)?: return .lost(wasExposed: wasExposed, reason)
        case nil: return .lost(wasExposed: false, "the connection ended")
        }
    }

    /// Dials one datagram connection per UDP mapping once the mappings are granted. Each lives
    /// as long as `control`: when either closes, so does the other (and the session starts over).
    private func openDatagramConnections(control: Channel) {
        for service in services where service.transport == .udp {
            let target: SocketAddress
            do { target = try SocketAddress.makeAddressResolvingHost(service.targetHost, port: service.targetPort) } catch {
                control.close(promise: nil)
                return
            }
            dialAuthenticated(on: group.next(), halfClosable: false)
                .whenComplete { outcome in
                    guard case .success(let channel) = outcome else { return control.close(promise: nil) }
                    control.closeFuture.whenComplete { _ in channel.close(promise: nil) }
                    channel.closeFuture.whenComplete { _ in control.close(promise: nil) }
                    channel.writeAndFlush(ShadowFrame.control(.udp(mapping: service.name)), promise: nil)
                    let relay = LocalDatagramRelay(target: target) { [weak self] toPublic, fromPublic in
                        self?.figures.withLock { $0.bytesToPublic += toPublic; $0.bytesFromPublic += fromPublic }
                    }
                    do { try channel.pipeline.syncOperations.addHandler(relay) } catch { channel.close(promise: nil) }
                }
        }
    }

    /// Dials `spares` spare data connections for the session of `control`, and another each time
    /// one is taken for a stream. One that closes unused is dialed again a second later, unless
    /// the supernode refused it (it keeps no more). Those still waiting close with `control`;
    /// those taken are streams, which outlive it.
    private func keepSpares(control: Channel, events: @escaping @Sendable (Event) -> Void) {
        guard spares > 0 else { return }
        spareSession.withLock { $0 = (control, 0, true) }
        for _ in 0..<spares { dialSpare(control: control, events: events) }
    }

    /// A public connection found no spare ready: one more, unless the session has `maxSpares`.
    private func addSpareWhenShort(events: @escaping @Sendable (Event) -> Void) {
        // Counted at once, under the same lock as the check: a burst cannot overshoot.
        guard let control = spareSession.withLock({ session -> Channel? in
            guard let current = session, current.mayGrow, current.waiting < Self.maxSpares else { return nil }
            session!.waiting += 1
            return current.control
        }) else { return }
        dialSpare(control: control, events: events, counted: true)
    }

    /// Counts one spare of `control`'s session more (`change` 1) or less (-1); `refused`: the
    /// supernode refused it, so the session adds no more.
    private func countSpare(_ change: Int, of control: Channel, refused: Bool = false) {
        spareSession.withLock { session in
            guard session?.control === control else { return }
            session!.waiting += change
            if refused { session!.mayGrow = false }
        }
    }

    private func dialSpare(control: Channel, events: @escaping @Sendable (Event) -> Void, counted: Bool = false) {
        guard control.isActive else {
            if counted { countSpare(-1, of: control) }
            return
        }
        if !counted { countSpare(1, of: control) }
        let loop = group.next()
        dialAuthenticated(on: loop, halfClosable: true).whenComplete { [weak self] outcome in
            guard case .success(let channel) = outcome else {
                self?.countSpare(-1, of: control)
                return
            }
            guard control.isActive else {
                self?.countSpare(-1, of: control)
                return channel.close(promise: nil)
            }
            let spare = SpareConnectionHandler { stream, mapping, source in
                self?.countSpare(-1, of: control)
                self?.dialSpare(control: control, events: events)
                self?.openStream(stream, mapping: mapping, source: source, spare: channel, events: events)
            }
            let bound = NIOLoopBound(spare, eventLoop: channel.eventLoop)
            control.closeFuture.whenComplete { _ in
                channel.eventLoop.execute { if !bound.value.isOpen { channel.close(promise: nil) } }
            }
            channel.closeFuture.whenComplete { [weak self] _ in
                let handler = bound.value
                guard !handler.isOpen, let client = self else { return }
                client.countSpare(-1, of: control, refused: handler.wasRefused)
                guard control.isActive, !handler.wasRefused else { return }
                channel.eventLoop.scheduleTask(in: .seconds(1)) { [weak client] in client?.dialSpare(control: control, events: events) }
            }
            do {
                try channel.pipeline.syncOperations.addHandler(spare)
            } catch {
                return channel.close(promise: nil)
            }
            channel.writeAndFlush(ShadowFrame.control(.spare), promise: nil)
        }
    }

    /// A new connection to the supernode on `loop` (a data or datagram connection), once its
    /// handshake is done. `halfClosable`: a stream's data connection ends one way at a time.
    private func dialAuthenticated(on loop: EventLoop, halfClosable: Bool) -> EventLoopFuture<Channel> {
        let authenticated = loop.makePromise(of: Void.self)
        let identity = self.identity, server = supernode.id
        return ClientBootstrap(group: loop)
            .connectTimeout(.seconds(10))
            .channelOption(.allowRemoteHalfClosure, value: halfClosable)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([ClientHandshakeHandler(identity: identity, server: server),
                                                                     AuthenticationWaiter(authenticated)])
                }
            }
            .connect(host: supernode.host, port: supernode.port)
            .flatMap { channel in authenticated.futureResult.map { channel } }
    }

    /// A public connection arrived: connect to the local service and relay it over `spare` (the
    /// spare data connection the supernode announced it on), or else over a new data connection
    /// attached to `stream`. Both connections of a stream share one event loop.
    private func openStream(_ stream: UInt64, mapping: String, source: String, spare: Channel?, events: @escaping @Sendable (Event) -> Void) {
        guard let service = services.first(where: { $0.name == mapping }) else {
            spare?.close(promise: nil)
            return
        }
        let loop = spare?.eventLoop ?? group.next()
        let local = ClientBootstrap(group: loop)
            .connectTimeout(.seconds(5))
            .channelOption(.allowRemoteHalfClosure, value: true)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(PlainRelayHandler { [weak self] bytes in
                        self?.figures.withLock { $0.bytesToPublic += bytes }
                    })
                }
            }
            .connect(host: service.targetHost, port: service.targetPort)
        let data = spare.map { loop.makeSucceededFuture($0) } ?? dialAuthenticated(on: loop, halfClosable: true)
        figures.withLock { $0.openStreams += 1; $0.streams += 1 }
        events(.streamOpened(mapping: mapping, source: source))
        let finished: @Sendable () -> Void = {
            self.figures.withLock { $0.openStreams -= 1 }
            events(.streamClosed(mapping: mapping))
        }
        data.and(local).whenComplete { outcome in
            switch outcome {
            case .success((let dataChannel, let localChannel)):
                if spare == nil { dataChannel.writeAndFlush(ShadowFrame.control(.attach(stream: stream)), promise: nil) }
                do {
                    let sealed = SealedRelayHandler(partner: localChannel) { bytes in self.figures.withLock { $0.bytesFromPublic += bytes } }
                    try dataChannel.pipeline.syncOperations.addHandler(sealed)
                    if spare != nil { try dataChannel.pipeline.syncOperations.handler(type: SpareConnectionHandler.self).release() }
                    try localChannel.pipeline.syncOperations.handler(type: PlainRelayHandler.self).attach(to: dataChannel)
                    localChannel.closeFuture.whenComplete { _ in finished() }
                } catch {
                    dataChannel.close(promise: nil)
                    localChannel.close(promise: nil)
                    finished()
                }
            case .failure:
                // The local service is down (or the supernode): attach and close (a spare: close),
                // so the public connection is closed at once rather than after the attach limit.
                data.whenSuccess { channel in
                    guard spare == nil else { return channel.close(promise: nil) }
                    channel.writeAndFlush(ShadowFrame.control(.attach(stream: stream))).whenComplete { _ in channel.close(promise: nil) }
                }
                local.whenSuccess { $0.close(promise: nil) }
                finished()
            }
        }
    }
}

/// Completes `promise` when the connection's handshake is done.
private final class AuthenticationWaiter: ChannelInboundHandler {
    typealias InboundIn = ShadowFrame
    private let promise: EventLoopPromise<Void>

    init(_ promise: EventLoopPromise<Void>) { self.promise = promise }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ShadowAuthenticated { promise.succeed() }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        promise.fail(error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(ChannelError.ioOnClosedChannel)
        context.fireChannelInactive()
    }
}

