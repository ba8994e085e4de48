import CarrierShadow
import NIOCore
import NIOPosix

/// A datagram for public source `source`, written to a UDP mapping's public port by the client's
/// datagram connection.
struct DatagramToSource {
    var source: UInt32
    var payload: ByteBuffer
}

/// A UDP mapping's public port (docs/shadow.md, "UDP mappings"). Each outside address that sends
/// to it gets a source number; its datagrams go to the client's datagram connection as
/// `datagram(source, payload)` frames, and the client's answers for that number go back to that
/// address. A source silent for `idleSeconds` is forgotten; at most `maxSources` are known at once
/// (a datagram from one more is dropped and counted). Datagrams from a source the mapping does not
/// admit, beyond the client's or the mapping's byte rate, that find no datagram connection, or
/// one that cannot keep up, are dropped and counted: UDP's own semantics.
///
/// Runs on its channel's event loop; `attach(_:)` and the writes may come from any thread.
final class PublicDatagramHandler: ChannelDuplexHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundIn = DatagramToSource
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    /// What the port asks (whether a source is admitted) and reports: bytes relayed both ways
    /// (billing), and dropped datagrams.
    struct Hooks: Sendable {
        var admits: @Sendable (SocketAddress) -> Bool
        var relayed: @Sendable (_ bytes: Int) -> Void
        var count: @Sendable (String) -> Void
    }

    static let idleSeconds: Int64 = 60
    static let reportInterval = TimeAmount.seconds(10)

    private let maxSources: Int
    private let budgets: DatagramBudgets
    private let hooks: Hooks
    private var tunnel: Channel?
    private var addresses: [UInt32: SocketAddress] = [:]
    private var sources: [SocketAddress: UInt32] = [:]
    private var lastHeard: [UInt32: NIODeadline] = [:]
    private var nextSource: UInt32 = 0
    private var unreported = 0
    private var housekeeping: RepeatedTask?

    init(maxSources: Int, budgets: DatagramBudgets, hooks: Hooks) {
        self.maxSources = maxSources
        self.budgets = budgets
        self.hooks = hooks
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        housekeeping = context.eventLoop.scheduleRepeatedTask(initialDelay: Self.reportInterval, delay: Self.reportInterval) { _ in
            bound.value.forgetIdleSources()
            bound.value.report()
        }
    }

    /// Makes `tunnel` the mapping's datagram connection, closing the one before it.
    static func attach(_ tunnel: Channel, to port: Channel) {
        port.pipeline.handler(type: PublicDatagramHandler.self).whenComplete { found in
            guard case .success(let handler) = found else { return tunnel.close(promise: nil) }
            handler.attach(tunnel)
        }
    }

    private func attach(_ tunnel: Channel) {
        if let previous = self.tunnel, previous !== tunnel { previous.close(promise: nil) }
        self.tunnel = tunnel
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        guard hooks.admits(envelope.remoteAddress) else { return hooks.count("udp_refused_source") }
        guard let tunnel, tunnel.isActive, tunnel.isWritable else { return hooks.count("udp_dropped") }
        guard let source = source(for: envelope.remoteAddress, now: .now()) else { return hooks.count("udp_refused_sources") }
        guard budgets.admitFromOutside(envelope.data.readableBytes) else {
            return hooks.count("udp_over_bandwidth")
        }
        unreported += envelope.data.readableBytes
        tunnel.write(ShadowFrame.datagram(source: source, payload: envelope.data), promise: nil)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        tunnel?.flush()
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let datagram = unwrapOutboundIn(data)
        guard let address = addresses[datagram.source] else {
            hooks.count("udp_unknown_source")
            promise?.succeed()
            return
        }
        guard budgets.admitAnswer(datagram.payload.readableBytes) else {
            hooks.count("udp_over_bandwidth")
            promise?.succeed()
            return
        }
        lastHeard[datagram.source] = .now()
        unreported += datagram.payload.readableBytes
        context.write(wrapOutboundOut(AddressedEnvelope(remoteAddress: address, data: datagram.payload)), promise: promise)
    }

    /// The source number of `address`, a new one if it is not known (nil when the table is full).
    private func source(for address: SocketAddress, now: NIODeadline) -> UInt32? {
        if let known = sources[address] {
            lastHeard[known] = now
            return known
        }
        guard sources.count < maxSources else { return nil }
        nextSource &+= 1
        sources[address] = nextSource
        addresses[nextSource] = address
        lastHeard[nextSource] = now
        return nextSource
    }

    private func forgetIdleSources() {
        let cutoff = NIODeadline.now() - .seconds(Self.idleSeconds)
        for (source, heard) in lastHeard where heard < cutoff {
            lastHeard[source] = nil
            if let address = addresses.removeValue(forKey: source) { sources[address] = nil }
        }
    }

    private func report() {
        guard unreported > 0 else { return }
        hooks.relayed(unreported)
        unreported = 0
    }

    func channelInactive(context: ChannelHandlerContext) {
        housekeeping?.cancel()
        report()
        tunnel?.close(promise: nil)
        tunnel = nil
        context.fireChannelInactive()
    }
}

/// A mapping's public UDP port.
enum PublicDatagramPort {
    static func bind(host: String, port: Int, group: EventLoopGroup, tracking open: OpenChannels,
                     handler: @escaping @Sendable () -> PublicDatagramHandler) -> EventLoopFuture<Channel> {
        open.track(bound: DatagramBootstrap(group: group)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(handler()) }
            }
            .bind(host: host, port: port))
    }
}
