import CarrierCore
import NIOCore
import NIOPosix
import Synchronization

/// A bound UDP socket (SwiftNIO): datagrams in, on its event loop or through a queue, and
/// datagrams out to any address.
///
/// Each inbound datagram is first offered to `admit` on the event loop, before it is copied or
/// delivered (the node's `InboundGate`: per-source rate limits), so one source's flood is dropped
/// where it arrives. A refusal says until when; until then the same source's datagrams are dropped
/// on a comparison of socket addresses, without asking again (`throttledInbound`). Admitted
/// datagrams go where `Delivery` says: to a handler on the event loop (a `DHTNode`, whose actor runs
/// on that loop), or into a bounded queue read with `receive` (test peers, benchmarks). Datagrams
/// are read 16 at a time (`recvmmsg`), so a flood costs fewer system calls per datagram.
public final class UDPTransport: Sendable {
    /// One received datagram.
    public struct Datagram: Sendable {
        public let bytes: [UInt8]
        public let sender: Endpoint
    }

    /// Decides on an inbound datagram's source: nil to take it, or the instant before which that
    /// source is refused.
    public typealias Admission = @Sendable (Endpoint) -> ContinuousClock.Instant?

    /// Where admitted datagrams go.
    public enum Delivery: Sendable {
        /// Into a queue of at most `limit` datagrams, read with `receive`; when the reader falls
        /// that far behind, the newest are dropped, as a full socket buffer would, and counted in
        /// `droppedInbound`.
        case queued(limit: Int)
        /// To the handler, on the socket's event loop, as each is read. A handler slower than the
        /// datagrams leaves them in the socket's buffer (4 MiB), past which the kernel drops them.
        case onEventLoop(@Sendable (Datagram) -> Void)
    }

    /// Datagrams read with one system call.
    static let messagesPerRead = 16

    /// The receive buffer asked for: 4 MiB, about 1,800 datagrams waiting while the loop works.
    public static let receiveBufferWanted = 4 << 20
    /// Linux's `SO_RCVBUFFORCE`: `SO_RCVBUF` past `net.core.rmem_max`, for a process with
    /// `CAP_NET_ADMIN` (Linux's number; used on Linux only, as is `memoryInfoOption`).
    private static let forcedReceiveBufferOption = NIOBSDSocket.Option(rawValue: 33)

    /// The receive buffer the kernel granted, in bytes as it counts them: Linux doubles what it
    /// grants (the other half is its bookkeeping), so a full grant reads `2 * receiveBufferWanted`.
    public let receiveBufferSize: Int

    /// Whether `net.core.rmem_max` capped the receive buffer below `receiveBufferWanted`.
    public var receiveBufferCapped: Bool { receiveBufferSize < 2 * Self.receiveBufferWanted }

    /// The address and port the socket is bound to.
    public let localEndpoint: Endpoint
    private let channel: any Channel
    /// The queue of a `.queued` delivery.
    private let inbound: AsyncStream<Datagram>?
    private let handler: InboundHandler

    /// Binds `endpoint` (port 0 picks a free port) on one event loop of `group`. No `SO_REUSEADDR`:
    /// UDP has no TIME_WAIT to skip, and with it Linux hands out a port 0 that another such socket
    /// already holds, so two nodes would share a port and one would lose the other's replies. An
    /// IPv6 socket is IPv6-only, so `[::]:P` and `0.0.0.0:P` can be bound side by side (one DHT per
    /// family).
    public init(binding endpoint: Endpoint, delivery: Delivery = .queued(limit: 8192), admit: Admission? = nil,
                group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws {
        let stream: AsyncStream<Datagram>?
        let deliver: @Sendable (Datagram) -> Bool
        let finish: @Sendable () -> Void
        switch delivery {
        case .queued(let limit):
            let (queue, continuation) = AsyncStream.makeStream(of: Datagram.self, bufferingPolicy: .bufferingOldest(limit))
            stream = queue
            deliver = { datagram in
                if case .dropped = continuation.yield(datagram) { return false }
                return true
            }
            finish = { continuation.finish() }
        case .onEventLoop(let handler):
            stream = nil
            deliver = { datagram in
                handler(datagram)
                return true
            }
            finish = {}
        }
        let handler = InboundHandler(deliver: deliver, admit: admit, finished: finish)
        var bootstrap = DatagramBootstrap(group: group)
            .channelOption(.socketOption(.so_rcvbuf), value: SocketOptionValue(Self.receiveBufferWanted))
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
        // Past the cap where the process may (Linux); the kernel doubles what it is given.
        #if os(Linux)
        try? await channel.setOption(ChannelOptions.Types.SocketOption(level: .socket, name: Self.forcedReceiveBufferOption),
                                     value: SocketOptionValue(Self.receiveBufferWanted)).get()
        #endif
        receiveBufferSize = Int((try? await channel.getOption(.socketOption(.so_rcvbuf)).get()) ?? 0)
        localEndpoint = bound
        inbound = stream
        self.handler = handler
    }

    /// Datagrams dropped because the reader of a `.queued` delivery was its `limit` behind.
    public var droppedInbound: Int { handler.dropped.load(ordering: .relaxed) }

    /// Datagrams dropped because their source was refused a moment before (`admit` not asked).
    public var throttledInbound: Int { handler.refusedAgain.load(ordering: .relaxed) }

    /// Datagrams the kernel dropped at this socket because its receive buffer was full (the
    /// socket's `SO_MEMINFO` drop count); nil when the kernel does not say. On the socket's event
    /// loop only, where the answer is immediate.
    func kernelDrops() -> Int? {
        channel.eventLoop.preconditionInEventLoop()
        #if os(Linux)
        guard let provider = channel as? any SocketOptionProvider else { return nil }
        typealias MemoryInfo = (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32)
        let answer: EventLoopFuture<MemoryInfo> = provider.unsafeGetSocketOption(level: .socket, name: Self.memoryInfoOption)
        var drops: Int?
        answer.assumeIsolated().whenSuccess { drops = Int($0.8) }  // SK_MEMINFO_DROPS
        return drops
        #else
        return nil
        #endif
    }

    /// Linux's `SO_MEMINFO`: the socket's memory counters, `SK_MEMINFO_VARS` (9) of them.
    private static let memoryInfoOption = NIOBSDSocket.Option(rawValue: 55)

    /// Calls `handle` for each datagram of a `.queued` delivery until the socket is closed (returns
    /// at once for `.onEventLoop`).
    public func receive(_ handle: (Datagram) async -> Void) async {
        guard let inbound else { return }
        for await datagram in inbound { await handle(datagram) }
    }

    /// Sends `bytes` to `endpoint`; a send failure (unreachable network, full buffer) drops it, as UDP does.
    ///
    /// From any thread. A send made on the event loop while a read's datagrams are being handed
    /// over (an answer to one of them) is written at once and flushed with the others of that read,
    /// so one read's answers leave in one `sendmmsg`; any other send is flushed on its own.
    public func send(_ bytes: [UInt8], to endpoint: Endpoint) {
        let envelope = AddressedEnvelope(remoteAddress: endpoint.socketAddress, data: channel.allocator.buffer(bytes: bytes))
        if channel.eventLoop.inEventLoop, handler.deferFlush() {
            channel.write(envelope, promise: nil)
        } else {
            channel.writeAndFlush(envelope, promise: nil)
        }
    }

    /// Runs `body` with the sends it makes written at once and flushed together when it returns
    /// (one `sendmmsg`), as the answers to one read are. On the socket's event loop only.
    func sendingTogether(_ body: () -> Void) {
        channel.eventLoop.preconditionInEventLoop()
        guard handler.beginBatch() else { return body() }
        body()
        if handler.endBatch() { channel.flush() }
    }

    /// Closes the socket; `receive` returns once the queued datagrams are handled.
    public func close() async {
        try? await channel.close()
    }
}

/// Hands admitted datagrams over on the event loop.
private final class InboundHandler: ChannelInboundHandler, @unchecked Sendable {
    // @unchecked: `lastRefused`, `batching` and `flushPending` are touched on the channel's event loop only.
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    let dropped = Atomic<Int>(0)
    let refusedAgain = Atomic<Int>(0)
    /// Takes a datagram; false when it was dropped.
    private let deliver: @Sendable (UDPTransport.Datagram) -> Bool
    private let admit: UDPTransport.Admission?
    private let finished: @Sendable () -> Void
    /// The last source refused, and until when.
    private var lastRefused: (source: SocketAddress, until: ContinuousClock.Instant)?
    /// Whether sends are being batched (a read's datagrams are being handed over, from its first
    /// `channelRead` to its `channelReadComplete`, or `sendingTogether` runs), and whether writes
    /// made meanwhile wait for the batch's flush.
    private var batching = false
    private var flushPending = false

    init(deliver: @escaping @Sendable (UDPTransport.Datagram) -> Bool, admit: UDPTransport.Admission?, finished: @escaping @Sendable () -> Void) {
        self.deliver = deliver
        self.admit = admit
        self.finished = finished
    }

    /// Whether a write made now may wait for the batch's flush (it then will). On the event loop only.
    func deferFlush() -> Bool {
        guard batching else { return false }
        flushPending = true
        return true
    }

    /// Starts a batch of sends; false if one is running already (its end flushes). On the event loop only.
    func beginBatch() -> Bool {
        guard !batching else { return false }
        batching = true
        return true
    }

    /// Ends the batch; true when writes wait for a flush. On the event loop only.
    func endBatch() -> Bool {
        batching = false
        defer { flushPending = false }
        return flushPending
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        batching = true
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
        if !deliver(UDPTransport.Datagram(bytes: Array(envelope.data.readableBytesView), sender: sender)) {
            dropped.add(1, ordering: .relaxed)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if endBatch() { context.flush() }
        context.fireChannelReadComplete()
    }

    func channelInactive(context: ChannelHandlerContext) {
        finished()
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
