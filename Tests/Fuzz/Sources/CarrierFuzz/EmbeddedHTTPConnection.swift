/// One connection of the proxy's HTTP server on an `EmbeddedChannel`, with exactly the handlers a
/// live connection gets (`HTTPServer.configure`: `ConnectionGuard`, NIO's HTTP codec and
/// pipelining, `HTTPRequestHandler`, the WebSocket upgrade) and the proxy's own refusal bodies.
/// The fuzz targets write a client's bytes into it and read what the server sent back.
@testable import ProxyPlugin
import CarrierHTTP
import NIOCore
import NIOEmbedded
import NIOHTTP1

final class EmbeddedHTTPConnection {
    /// Shared by every connection of the run, as a server's are (nothing in them grows per connection).
    static let counters = HTTPServerCounters()
    static let connections = ServerConnections(perSource: 256, total: 16_384)

    let channel = EmbeddedChannel()
    private let socket = SocketSink()
    /// Every byte the server wrote to the socket, in order.
    var sent: [UInt8] { socket.bytes }

    init(limits: HTTPServerLimits, webSocket: WebSocketEndpoint?, respond: @escaping @Sendable (HTTPRequest) async -> HTTPAnswer) {
        SerialJobs.install
        do {
            try channel.pipeline.syncOperations.addHandler(socket)
            try HTTPServer.configure(channel, limits: limits, counters: Self.counters, connections: Self.connections, webSocket: webSocket,
                                     refusal: { ProxyRoutes.refusal($0, $1) }, respond: respond)
            // Active, with a client address, as an accepted socket is.
            try channel.connect(to: SocketAddress(ipAddress: "203.0.113.7", port: 40_000)).wait()
        } catch {
            fatalError("an EmbeddedChannel could not be set up as a server connection: \(error)")
        }
    }

    var isActive: Bool { channel.isActive }

    /// The client sends `bytes` (one read), if the connection is still open; then everything it
    /// set off runs, unless `settling` is false.
    func receive<Bytes: Collection>(_ bytes: Bytes, settling: Bool = true) where Bytes.Element == UInt8 {
        guard !bytes.isEmpty, channel.isActive else { return }
        // An error that reached the pipeline's end is rethrown here; handlers already acted on it.
        _ = try? channel.writeInbound(channel.allocator.buffer(bytes: bytes))
        if settling { settle() }
    }

    /// Runs the event loop's due tasks and the answers' jobs until neither has anything left.
    func settle() {
        repeat { channel.embeddedEventLoop.run() } while SerialJobs.runPending()
        trace("pipeline (active: \(channel.isActive)): \(channel.pipeline.debugDescription)")
        discardLateWrites()
    }

    /// The client stops or resumes reading: the socket's buffer is full, or has room again.
    func setWritable(_ writable: Bool) {
        guard channel.isActive, channel.isWritable != writable else { return }
        channel.isWritable = writable
        channel.pipeline.fireChannelWritabilityChanged()
        settle()
    }

    /// Moves the loop's clock on by `amount`, running the deadline checks that fall due.
    func advance(by amount: TimeAmount) {
        channel.embeddedEventLoop.advanceTime(by: amount)
        settle()
    }

    /// The client goes away (or the server closes): the connection closes, whatever was in flight.
    func close() {
        channel.close(promise: nil)
        settle()
    }

    /// Closes the connection if it is open, runs what that sets off and stops the loop (no task
    /// may be left on it); the server's bytes are in `sent`.
    func finish() {
        _ = try? channel.finish(acceptAlreadyClosed: true)
        settle()
        try? channel.embeddedEventLoop.syncShutdownGracefully()
        SerialJobs.runPending()
        invariant(Self.connections.answering == 0, "\(Self.connections.answering) answers still in progress after the connection closed")
    }

    /// Drops what reached the `EmbeddedChannel` past the socket: writes made once the pipeline was
    /// torn down, which a socket channel refuses.
    private func discardLateWrites() {
        while true {
            do {
                guard try channel.readOutbound(as: ByteBuffer.self) != nil else { return }
            } catch {
                continue
            }
        }
    }
}

/// First in the pipeline, the socket: it takes the bytes written to it (`EmbeddedHTTPConnection.sent`)
/// and, as NIO's socket channels do, fails writes once the channel is closed and traps on a write
/// that is not bytes (`BaseSocketChannel.write0`, then `unwrapData(_, as: IOData.self)`), so the
/// handler that writes something else fails here, with its stack. (An `EmbeddedChannel` itself
/// buffers whatever reaches it, closed or not.) Promises succeed at the flush, as a socket's do
/// when the kernel takes the bytes at once.
private final class SocketSink: ChannelOutboundHandler {
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    private(set) var bytes: [UInt8] = []
    private var unflushed: [EventLoopPromise<Void>?] = []

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard context.channel.isActive else {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        switch unwrapOutboundIn(data) {
        case .byteBuffer(let buffer): bytes += buffer.readableBytesView
        case .fileRegion: fatalError("a file region was written")
        }
        unflushed.append(promise)
    }

    func flush(context: ChannelHandlerContext) {
        let promises = unflushed
        unflushed = []
        for promise in promises { promise?.succeed(()) }
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        let promises = unflushed
        unflushed = []
        for promise in promises { promise?.fail(ChannelError.ioOnClosedChannel) }
        context.close(mode: mode, promise: promise)
    }
}
