import CarrierCore
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// One HTTP request as the routes see it: method, path (without the query), query items, the
/// headers the routes look at (`Accept`), body.
struct HTTPRequest: Sendable {
    let method: HTTPMethod
    let path: String
    let query: [String: String]
    var accept: String = ""
    /// The client's IP address, as text.
    var remote: String = ""
    /// The `Authorization` header ("Bearer TOKEN" for a light node's session).
    var authorization: String = ""
    let body: [UInt8]
}

/// One answer: a status and a body of `contentType`; or, with `stream`, a chunked body that
/// `stream` writes for as long as it likes (a listen).
struct HTTPAnswer: Sendable {
    let status: HTTPResponseStatus
    let body: String
    var contentType = "application/json"
    var stream: (@Sendable (HTTPStream) async -> Void)?
    /// Seconds a refused client should wait (`Retry-After`), for 429 answers.
    var retryAfter: Int?

    static func json(_ body: String, _ status: HTTPResponseStatus = .ok) -> HTTPAnswer {
        HTTPAnswer(status: status, body: body)
    }

    /// A 200 with a chunked JSON body written by `writer`, which returns when it is done.
    static func streamed(_ writer: @escaping @Sendable (HTTPStream) async -> Void) -> HTTPAnswer {
        HTTPAnswer(status: .ok, body: "", stream: writer)
    }
}

/// The body of a streamed answer, written chunk by chunk from any thread. A client that does not
/// read (the socket's buffer above its high-water mark) is disconnected rather than buffered
/// for: one slow listener never holds up the others, and it reconnects when it can.
final class HTTPStream: Sendable {
    private let channel: Channel

    init(channel: Channel) { self.channel = channel }

    /// Sends one chunk; false once the connection is closed or was closed for not reading.
    @discardableResult
    func send(_ text: String) -> Bool {
        guard channel.isActive else { return false }
        let channel = self.channel
        channel.eventLoop.execute {
            guard channel.isActive else { return }
            guard channel.isWritable else {
                channel.close(promise: nil)
                return
            }
            let buffer = channel.allocator.buffer(string: text)
            channel.writeAndFlush(HTTPServerResponsePart.body(.byteBuffer(buffer)), promise: nil)
        }
        return true
    }

    /// Returns when the client closes the connection (or the server stops).
    func closed() async {
        try? await channel.closeFuture.get()
    }

    /// Ends the body and closes the connection (if the client or the server has not already).
    func finish() {
        let channel = self.channel
        guard channel.isActive else { return }
        channel.eventLoop.execute {
            channel.writeAndFlush(HTTPServerResponsePart.end(nil)).whenComplete { _ in channel.close(promise: nil) }
        }
    }
}

/// A small HTTP/1.1 server on SwiftNIO: requests are read whole (bodies over `maxBody` are
/// refused with 413 before they are buffered), handed to `respond` off the event loop, and
/// answered with keep-alive as the client asks. With `webSocket`, a GET of its path that asks
/// for an upgrade becomes a WebSocket connection served by the session `webSocket` opens.
final class HTTPServer: Sendable {
    static let maxBody = 65_536
    let group: MultiThreadedEventLoopGroup
    let channel: Channel
    /// The open connections and the answers being worked out, so `close` can end both before the
    /// event loop goes (a task writing to a shut-down loop would crash a strict NIO).
    private let connections: Connections

    /// `connectionsPerSource` bounds the connections open at once from one source (an IPv4
    /// address, an IPv6 /64); one more is closed as soon as it is accepted.
    init(host: String, port: Int, connectionsPerSource: Int = 256, webSocket: WebSocketEndpoint? = nil,
         respond: @escaping @Sendable (HTTPRequest) async -> HTTPAnswer) throws {
        connections = Connections(perSource: connectionsPerSource)
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        do {
            channel = try ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 256)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { [connections] channel in
                    guard connections.opened(channel) else { return channel.close() }
                    return channel.eventLoop.makeCompletedFuture {
                        let requests = RequestHandler(respond: respond, connections: connections)
                        let upgrade = webSocket.map { $0.upgrade(replacing: requests, connections: connections) }
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline(withServerUpgrade: upgrade, withErrorHandling: true)
                        try channel.pipeline.syncOperations.addHandler(requests)
                    }
                }
                .bind(host: host, port: port).wait()
        } catch {
            try? group.syncShutdownGracefully()
            throw error
        }
    }

    /// The port it listens on.
    var port: Int { channel.localAddress?.port ?? 0 }

    /// Stops listening, closes every connection (ending listen streams), waits up to 2 s for the
    /// answers in progress, then stops the event loop.
    func close() {
        try? channel.close().wait()
        connections.closeAll()
        let deadline = ContinuousClock.now + .seconds(2)
        while connections.answering > 0, ContinuousClock.now < deadline { usleep(5_000) }
        try? group.syncShutdownGracefully()
    }
}

/// The server's open connections (at most `perSource` from one source) and how many answers
/// are being worked out.
final class Connections: Sendable {
    private struct Open {
        var channels: [ObjectIdentifier: Channel] = [:]
        var perSource: [String: Int] = [:]
    }

    let perSource: Int
    private let open = Mutex(Open())
    private let inProgress = Atomic<Int>(0)

    init(perSource: Int) { self.perSource = perSource }

    var answering: Int { inProgress.load(ordering: .relaxed) }

    /// Registers a new connection; false if its source has `perSource` open already.
    func opened(_ channel: Channel) -> Bool {
        let key = ObjectIdentifier(channel), source = ProxyAccess.sourceKey(channel.remoteAddress?.ipAddress ?? "")
        let admitted = open.withLock { open -> Bool in
            guard open.perSource[source, default: 0] < perSource else { return false }
            open.perSource[source, default: 0] += 1
            open.channels[key] = channel
            return true
        }
        guard admitted else { return false }
        channel.closeFuture.whenComplete { [self] _ in
            open.withLock { open in
                open.channels[key] = nil
                open.perSource[source, default: 1] -= 1
                if open.perSource[source] == 0 { open.perSource[source] = nil }
            }
        }
        return true
    }

    func closeAll() {
        for channel in open.withLock({ Array($0.channels.values) }) { try? channel.close().wait() }
    }

    /// Counts an answer in progress for as long as `work` runs.
    func answer(_ work: () async -> Void) async {
        inProgress.add(1, ordering: .relaxed)
        defer { inProgress.subtract(1, ordering: .relaxed) }
        await work()
    }
}

/// Collects one request, then writes the answer `respond` gives.
final class RequestHandler: ChannelInboundHandler, RemovableChannelHandler, @unchecked Sendable {
    // @unchecked: every field is touched on the channel's event loop only.
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let respond: @Sendable (HTTPRequest) async -> HTTPAnswer
    private let connections: Connections
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []
    private var tooLarge = false

    init(respond: @escaping @Sendable (HTTPRequest) async -> HTTPAnswer, connections: Connections) {
        self.respond = respond
        self.connections = connections
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body = []
            tooLarge = false
        case .body(var buffer):
            guard !tooLarge else { return }
            if body.count + buffer.readableBytes > HTTPServer.maxBody {
                tooLarge = true
                body = []
            } else {
                body += buffer.readBytes(length: buffer.readableBytes) ?? []
            }
        case .end:
            guard let head else { return }
            let keepAlive = head.isKeepAlive, loop = context.eventLoop, bound = NIOLoopBound(context, eventLoop: loop)
            if tooLarge {
                write(ProxyRoutes.error(.payloadTooLarge, code: ErrorCode.messageTooBig.rawValue, "the body is over \(HTTPServer.maxBody) bytes"),
                      keepAlive: false, context: context)
                return
            }
            let (path, query) = Self.split(head.uri)
            // A HEAD is answered as its GET would be, without the body.
            let headOnly = head.method == .HEAD
            let request = HTTPRequest(method: headOnly ? .GET : head.method, path: path, query: query, accept: head.headers.first(name: "Accept") ?? "",
                                      remote: context.channel.remoteAddress?.ipAddress ?? "",
                                      authorization: head.headers.first(name: "Authorization") ?? "", body: body)
            let respond = self.respond, connections = self.connections
            Task {
                await connections.answer {
                    var answer = await respond(request)
                    if headOnly { answer.stream = nil }
                    loop.execute { self.write(answer, keepAlive: keepAlive, headOnly: headOnly, context: bound.value) }
                }
            }
        }
    }

    private func write(_ answer: HTTPAnswer, keepAlive: Bool, headOnly: Bool = false, context: ChannelHandlerContext) {
        if let stream = answer.stream {
            // The stream holds the connection until one side closes it.
            let headers = HTTPHeaders([("Content-Type", answer.contentType), ("Transfer-Encoding", "chunked"),
                                       ("Access-Control-Allow-Origin", "*"), ("Connection", "close")])
            context.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: answer.status, headers: headers))), promise: nil)
            let writer = HTTPStream(channel: context.channel), connections = self.connections
            Task {
                await connections.answer { await stream(writer) }
                writer.finish()
            }
            return
        }
        var headers = HTTPHeaders([("Content-Type", answer.contentType), ("Content-Length", "\(answer.body.utf8.count)"),
                                   ("Access-Control-Allow-Origin", "*")])
        headers.add(name: "Connection", value: keepAlive ? "keep-alive" : "close")
        if let retryAfter = answer.retryAfter { headers.add(name: "Retry-After", value: "\(retryAfter)") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: answer.status, headers: headers))), promise: nil)
        if !headOnly {
            var buffer = context.channel.allocator.buffer(capacity: answer.body.utf8.count)
            buffer.writeString(answer.body)
            context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        }
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
            if !keepAlive { channel.close(promise: nil) }
        }
    }

    /// `/v1/values/X?cas=3` → ("/v1/values/X", ["cas": "3"]).
    private static func split(_ uri: String) -> (String, [String: String]) {
        let parts = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        var query: [String: String] = [:]
        if parts.count == 2 {
            for item in parts[1].split(separator: "&") {
                let pair = item.split(separator: "=", maxSplits: 1)
                query[String(pair[0])] = pair.count == 2 ? String(pair[1]) : ""
            }
        }
        return (String(parts[0]), query)
    }
}
