import NIOCore
import NIOPosix
import Synchronization

/// A value behind a lock, shared by a test helper and its channel handler.
final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    init(_ value: Value) { mutex = Mutex(value) }
    func withLock<T>(_ body: (inout Value) -> T) -> T { mutex.withLock { body(&$0) } }
}

/// A DNS-like UDP service on loopback for relay tests: answers each datagram to its sender with
/// "answer " and the datagram, and records the distinct sources it saw.
public final class UDPEchoServer: Sendable {
    public let port: Int
    private let channel: Channel
    private let seen = Locked(Set<SocketAddress>())

    public init(group: EventLoopGroup, host: String = "127.0.0.1") async throws {
        let seen = self.seen
        channel = try await DatagramBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Answerer(seen: seen)) }
            }
            .bind(host: host, port: 0).get()
        port = channel.localAddress!.port!
    }

    /// The distinct addresses that sent to it.
    public var sources: Set<SocketAddress> { seen.withLock { $0 } }

    public func close() async { try? await channel.close() }

    private final class Answerer: ChannelInboundHandler {
        typealias InboundIn = AddressedEnvelope<ByteBuffer>
        typealias OutboundOut = AddressedEnvelope<ByteBuffer>
        let seen: Locked<Set<SocketAddress>>
        init(seen: Locked<Set<SocketAddress>>) { self.seen = seen }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let query = unwrapInboundIn(data)
            _ = seen.withLock { $0.insert(query.remoteAddress) }
            var answer = context.channel.allocator.buffer(string: "answer ")
            answer.writeImmutableBuffer(query.data)
            context.writeAndFlush(wrapOutboundOut(AddressedEnvelope(remoteAddress: query.remoteAddress, data: answer)), promise: nil)
        }
    }
}

/// A UDP client socket for relay tests: sends queries to one address and collects what comes back.
public final class UDPQuerier: Sendable {
    private let channel: Channel
    private let target: SocketAddress
    private let answers = Locked<[[UInt8]]>([])

    public init(host: String = "127.0.0.1", port: Int, group: EventLoopGroup) async throws {
        target = try SocketAddress(ipAddress: host, port: port)
        let answers = self.answers
        channel = try await DatagramBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Collector(answers)) }
            }
            .bind(host: host, port: 0).get()
    }

    public func send(_ payload: [UInt8]) {
        let buffer = channel.allocator.buffer(bytes: payload)
        channel.writeAndFlush(AddressedEnvelope(remoteAddress: target, data: buffer), promise: nil)
    }

    /// Everything received so far, in arrival order.
    public var received: [[UInt8]] { answers.withLock { $0 } }

    public func close() async { try? await channel.close() }

    private final class Collector: ChannelInboundHandler {
        typealias InboundIn = AddressedEnvelope<ByteBuffer>
        let answers: Locked<[[UInt8]]>
        init(_ answers: Locked<[[UInt8]]>) { self.answers = answers }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let bytes = Array(unwrapInboundIn(data).data.readableBytesView)
            answers.withLock { $0.append(bytes) }
        }
    }
}
