import CarrierCore
import NIOCore
import NIOPosix
import Synchronization

/// A bound UDP socket (SwiftNIO): datagrams in as an async sequence, datagrams out to any address.
///
/// Each inbound datagram is first offered to `admit` on the event loop, before it is copied or
/// queued (the node's `InboundGate`: per-source rate limits), so one source's flood is dropped where
/// it arrives. A refusal says until when; until then the same source's datagrams are dropped on
/// a comparison of socket addresses, without asking again (`throttledInbound`). Admitted datagrams wait in a bounded queue (`inboundQueueLimit`); when the consumer
/// falls that far behind, the newest are dropped, as a full socket buffer would, and counted in
/// `droppedInbound`. Datagrams are read 16 at a time (`recvmmsg`), so a flood costs fewer system
/// calls per datagram.
public final class UDPTransport: Sendable {
    /// One received datagram.
    public struct Datagram: Sendable {
        public let bytes: [UInt8]
        public let sender: Endpoint
    }

    /// Decides on an inbound datagram's source: nil to take it, or the instant before which that
    /// source is refused.
    public typealias Admission = @Sendable (Endpoint) -> ContinuousClock.Instant?

    /// Datagrams read with one system call.
    static let messagesPerRead = 16

    /// The address and port the socket is bound to.
    public let localEndpoint: Endpoint
    private let channel: any Channel
    private let inbound: AsyncStream<Datagram>
    private let handler: InboundHandler

    /// Binds `endpoint` (port 0 picks a free port). No `SO_REUSEADDR`: UDP has no TIME_WAIT to skip,
    /// and with it Linux hands out a port 0 that another such socket already holds, so two nodes
    /// would share a port and one would lose the other's replies. An IPv6 socket is IPv6-only, so
    /// `[::]:P` and `0.0.0.0:P` can be bound side by side (one DHT per family).
    public init(binding endpoint: Endpoint, inboundQueueLimit: Int = 8192, admit: Admission? = nil,
                group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws {
        let (stream, continuation) = AsyncStream.makeStream(of: Datagram.self, bufferingPolicy: .bufferingOldest(inboundQueueLimit))
        let handler = InboundHandler(continuation, admit: admit)
        var bootstrap = DatagramBootstrap(group: group)
            .channelOption(.socketOption(.so_rcvbuf), value: 4 << 20)
            .channelOption(.datagramVectorReadMessageCount, value: Self.messagesPerRead)
            // NIO divides one read's buffer between its messages: 2 KiB each (a node accepts
            // datagrams of at most 1,912 bytes).
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: Self.messagesPerRead * 2048))
            .channelInitializer { channel in channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(handler) } }
        if endpoint.family == .ipv6 {
            bootstrap = bootstrap.channelOption(ChannelOptions.Types.SocketOption(level: .ipv6, name: .ipv6_v6only), value: 1)
        }
        channel = try await bootstrap.bind(host: endpoint.address.description, port: Int(endpoint.port)).get()
        guard let local = channel.localAddress, let bound = Endpoint(local) else {
            try? await channel.close()
            throw TransportError("cannot read the bound address of \(endpoint)")
        }
        localEndpoint = bound
        inbound = stream
        self.handler = handler
    }

    /// Datagrams dropped because the consumer was `inboundQueueLimit` behind.
    public var droppedInbound: Int { handler.dropped.load(ordering: .relaxed) }

    /// Datagrams dropped because their source was refused a moment before (`admit` not asked).
    public var throttledInbound: Int { handler.refusedAgain.load(ordering: .relaxed) }

    /// Calls `handle` for each datagram until the socket is closed.
    public func receive(_ handle: (Datagram) async -> Void) async {
        for await datagram in inbound { await handle(datagram) }
    }

    /// Sends `bytes` to `endpoint`; a send failure (unreachable network, full buffer) drops it, as UDP does.
    public func send(_ bytes: [UInt8], to endpoint: Endpoint) {
        channel.writeAndFlush(AddressedEnvelope(remoteAddress: endpoint.socketAddress, data: channel.allocator.buffer(bytes: bytes)),
                              promise: nil)
    }

    /// Closes the socket; `receive` returns once the queued datagrams are handled.
    public func close() async {
        try? await channel.close()
    }
}

/// Moves admitted datagrams from the event loop into the transport's queue.
private final class InboundHandler: ChannelInboundHandler, @unchecked Sendable {
    // @unchecked: `lastRefused` is touched on the channel's event loop only.
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    let dropped = Atomic<Int>(0)
    let refusedAgain = Atomic<Int>(0)
    private let continuation: AsyncStream<UDPTransport.Datagram>.Continuation
    private let admit: UDPTransport.Admission?
    /// The last source refused, and until when.
    private var lastRefused: (source: SocketAddress, until: ContinuousClock.Instant)?

    init(_ continuation: AsyncStream<UDPTransport.Datagram>.Continuation, admit: UDPTransport.Admission?) {
        self.continuation = continuation
        self.admit = admit
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        if let refused = lastRefused, refused.source == envelope.remoteAddress, ContinuousClock.now < refused.until {
            refusedAgain.add(1, ordering: .relaxed)
            return
        }
        guard let sender = Endpoint(envelope.remoteAddress) else { return }
        if let until = admit?(sender) {
            lastRefused = (envelope.remoteAddress, until)
            return
        }
        if case .dropped = continuation.yield(UDPTransport.Datagram(bytes: Array(envelope.data.readableBytesView), sender: sender)) {
            dropped.add(1, ordering: .relaxed)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        continuation.finish()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // ICMP errors (port unreachable) surface here for UDP; they concern one peer, not the socket.
    }
}

/// A socket could not be opened or used.
public struct TransportError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
