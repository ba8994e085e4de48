import NIOCore
import NIOPosix

/// A TCP echo server on loopback for relay tests: echoes every byte, and when its client
/// half-closes, finishes echoing and half-closes too, so a client that sends, shuts down its
/// write half and reads to the end gets back exactly what it sent.
public final class TCPEchoServer: Sendable {
    public let port: Int
    private let channel: Channel

    public init(group: EventLoopGroup, host: String = "127.0.0.1") async throws {
        channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(EchoHandler()) }
            }
            .bind(host: host, port: 0).get()
        port = channel.localAddress!.port!
    }

    public func close() async { try? await channel.close() }

    private final class EchoHandler: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        func channelRead(context: ChannelHandlerContext, data: NIOAny) { context.write(data, promise: nil) }
        func channelReadComplete(context: ChannelHandlerContext) { context.flush() }
        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            // Half-close once the echoes still pending are written: SwiftNIO makes a half-close
            // after the input ended a full close, which would drop them.
            guard let event = event as? ChannelEvent, event == .inputClosed else { return }
            let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
            context.writeAndFlush(NIOAny(context.channel.allocator.buffer(capacity: 0))).whenComplete { _ in
                bound.value.close(mode: .output, promise: nil)
            }
        }
        func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }
    }
}

/// A TCP client for relay tests: connects, sends `payload`, half-closes, and returns everything
/// it reads until the other side ends (or `nil` if the connection was refused or reset before).
public enum TCPExchange {
    public static func run(host: String = "127.0.0.1", port: Int, payload: [UInt8], group: EventLoopGroup,
                           halfClose: Bool = true) async throws -> [UInt8] {
        let received = group.next().makePromise(of: [UInt8].self)
        let channel: Channel
        do {
            channel = try await ClientBootstrap(group: group)
                .channelOption(.allowRemoteHalfClosure, value: true)
                .connectTimeout(.seconds(5))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Collector(received)) }
                }
                .connect(host: host, port: port).get()
        } catch {
            received.fail(error)
            throw error
        }
        try await channel.writeAndFlush(ByteBuffer(bytes: payload))
        if halfClose { try await channel.close(mode: .output) }
        return try await received.futureResult.get()
    }

    private final class Collector: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        private var bytes: [UInt8] = []
        private let promise: EventLoopPromise<[UInt8]>
        init(_ promise: EventLoopPromise<[UInt8]>) { self.promise = promise }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) { bytes += unwrapInboundIn(data).readableBytesView }
        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if let event = event as? ChannelEvent, event == .inputClosed {
                promise.succeed(bytes)
                context.close(promise: nil)
            }
        }
        func channelInactive(context: ChannelHandlerContext) { promise.succeed(bytes) }
        func errorCaught(context: ChannelHandlerContext, error: any Error) { promise.fail(error); context.close(promise: nil) }
    }
}
