import CarrierCore
import NIOCore
import NIOHTTP1
import NIOPosix

/// An HTTP/1.1 server on SwiftNIO for outside input: requests are parsed strictly
/// (`RequestTarget`), bounded (`HTTPServerLimits`), handed whole to `respond` off the event loop
/// and answered with keep-alive as the client asks. With `webSocket`, a GET of its path that asks
/// for an upgrade becomes a WebSocket connection served by the session it opens.
///
/// Each connection's pipeline is `ConnectionGuard` (deadlines, backpressure), NIO's HTTP codec
/// and pipelining handler, then `HTTPRequestHandler`. Every refusal is counted in `counters`.
///
/// ```swift
/// let server = try HTTPServer(host: "127.0.0.1", port: 8080) { request in
///     .json(#"{"path":"\#(request.path)"}"#)
/// }
/// defer { server.close() }
/// ```
public final class HTTPServer: Sendable {
    /// Descriptors kept back from `maxConnections` for everything else the process opens.
    static let reservedDescriptors = 128

    public let limits: HTTPServerLimits
    public let counters: HTTPServerCounters
    public let connections: ServerConnections
    let group: MultiThreadedEventLoopGroup
    let channel: Channel

    /// `refusal` writes the body of the server's own refusals (400, 408, 413) in the caller's
    /// error form.
    public init(host: String, port: Int, limits: HTTPServerLimits = HTTPServerLimits(), webSocket: WebSocketEndpoint? = nil,
                refusal: @escaping @Sendable (HTTPResponseStatus, String) -> HTTPAnswer = { .json(#"{"error":"\#($1)"}"#, $0) },
                respond: @escaping @Sendable (HTTPRequest) async -> HTTPAnswer) throws {
        let counters = HTTPServerCounters()
        let total = max(1, min(limits.maxConnections, FileDescriptorLimit.current - Self.reservedDescriptors))
        let connections = ServerConnections(perSource: limits.connectionsPerSource, total: total)
        self.limits = limits
        self.counters = counters
        self.connections = connections
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        do {
            channel = try ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 256)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .serverChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(AcceptFailureCounter(counters: counters)) }
                }
                .childChannelInitializer { channel in
                    if let refused = connections.opened(channel) {
                        counters.count(refused)
                        return channel.close()
                    }
                    return channel.eventLoop.makeCompletedFuture {
                        try Self.configure(channel, limits: limits, counters: counters, connections: connections, webSocket: webSocket,
                                           refusal: refusal, respond: respond)
                    }
                }
                .bind(host: host, port: port).wait()
        } catch {
            try? group.syncShutdownGracefully()
            throw error
        }
    }

    /// Installs one connection's handlers on `channel` (on its event loop): `ConnectionGuard`,
    /// NIO's HTTP codec and pipelining handler (with `webSocket`'s upgrade), `HTTPRequestHandler`.
    /// The server calls it for each accepted connection; a fuzzer calls it on an `EmbeddedChannel`.
    public static func configure(_ channel: Channel, limits: HTTPServerLimits, counters: HTTPServerCounters, connections: ServerConnections,
                                 webSocket: WebSocketEndpoint?, refusal: @escaping @Sendable (HTTPResponseStatus, String) -> HTTPAnswer,
                                 respond: @escaping @Sendable (HTTPRequest) async -> HTTPAnswer) throws {
        let connectionGuard = ConnectionGuard(limits: limits, counters: counters, refusal: refusal)
        let requests = HTTPRequestHandler(respond: respond, connections: connections, connectionGuard: connectionGuard,
                                          limits: limits, counters: counters)
        let upgrade = webSocket.map { $0.upgrade(replacing: requests, guarding: connectionGuard, connections: connections, counters: counters) }
        try channel.pipeline.syncOperations.addHandler(connectionGuard)
        try channel.pipeline.syncOperations.configureHTTPServerPipeline(withServerUpgrade: upgrade, withErrorHandling: true)
        try channel.pipeline.syncOperations.addHandler(requests)
    }

    /// The port it listens on.
    public var port: Int { channel.localAddress?.port ?? 0 }

    /// Stops listening, closes every connection (ending listen streams), waits up to 2 s for the
    /// answers in progress, then stops the event loop.
    public func close() {
        try? channel.close().wait()
        connections.closeAll()
        let deadline = ContinuousClock.now + .seconds(2)
        while connections.answering > 0, ContinuousClock.now < deadline { usleep(5_000) }
        try? group.syncShutdownGracefully()
    }
}

/// Counts failed accepts on the listening socket (out of descriptors, most often). NIO's
/// `AcceptBackoffHandler`, after it in the pipeline, pauses accepting for a second on each.
private final class AcceptFailureCounter: ChannelInboundHandler, Sendable {
    typealias InboundIn = Channel

    private let counters: HTTPServerCounters

    init(counters: HTTPServerCounters) { self.counters = counters }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        counters.count(.acceptFailed)
        context.fireErrorCaught(error)
    }
}
