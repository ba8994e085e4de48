import NIOCore
import NIOHTTP1
import NIOWebSocket
import Synchronization

/// What a WebSocket connection's messages go to: `received` gets each complete text message (in
/// order, on the connection's event loop: hand work off rather than block), `closed` is called
/// once when the connection ends.
public protocol WebSocketSession: Sendable {
    func received(_ text: String)
    func closed()
}

/// The WebSocket path of an `HTTPServer`: a GET of `path` with `Upgrade: websocket` becomes a
/// connection, and `open` makes its session.
public struct WebSocketEndpoint: Sendable {
    public let path: String
    /// The largest message a client may send (frames and whole messages).
    public let maxMessage: Int
    /// The most frames one message may come in (its first and its continuations).
    public let maxFragments: Int
    public let open: @Sendable (WebSocketConnection) -> WebSocketSession

    public init(path: String, maxMessage: Int, maxFragments: Int = 64, open: @escaping @Sendable (WebSocketConnection) -> WebSocketSession) {
        self.path = path
        self.maxMessage = maxMessage
        self.maxFragments = maxFragments
        self.open = open
    }

    /// The server upgrade configuration: refuses other paths, methods and requests with a body (they
    /// stay plain HTTP requests), and swaps `requests` for a frame handler once upgraded (and stops
    /// the request deadlines).
    func upgrade(replacing requests: HTTPRequestHandler, guarding connectionGuard: ConnectionGuard, connections: ServerConnections,
                 counters: HTTPServerCounters) -> NIOHTTPServerUpgradeSendableConfiguration {
        let path = self.path, maxMessage = self.maxMessage, maxFragments = self.maxFragments, open = self.open
        let upgrader = NIOWebSocketServerUpgrader(maxFrameSize: maxMessage, shouldUpgrade: { channel, head in
            let target = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
            // Only a GET without a body (RFC 6455's handshake; NIO checks neither): NIO's upgrade
            // handler would wait for a body's end holding a closure over its own context, and a
            // client that left before the end leaked the connection's handlers (found by Tests/Fuzz).
            let body = head.headers.contains(name: "Transfer-Encoding") || head.headers["Content-Length"].contains { $0 != "0" }
            return channel.eventLoop.makeSucceededFuture(target == path && head.method == .GET && !body ? HTTPHeaders() : nil)
        }, upgradePipelineHandler: { channel, _ in
            channel.eventLoop.makeCompletedFuture {
                let connection = WebSocketConnection(channel: channel, connections: connections)
                // Each frame is checked as it arrives, then NIO's aggregator reassembles messages
                // within the limits (a non-final fragment may be of any size: the count bounds them).
                try channel.pipeline.syncOperations.addHandlers([
                    WebSocketFrameRules(connection: connection, counters: counters),
                    NIOWebSocketFrameAggregator(minNonFinalFragmentSize: 0, maxAccumulatedFrameCount: maxFragments,
                                                maxAccumulatedFrameSize: maxMessage),
                    WebSocketFrameHandler(session: open(connection), connection: connection, counters: counters),
                ])
            }
        })
        let bound = UncheckedHandlers(requests: requests, connectionGuard: connectionGuard)
        return (upgraders: [upgrader], completionHandler: { context in
            bound.connectionGuard.stopWatching()
            context.pipeline.syncOperations.removeHandler(bound.requests, promise: nil)
        })
    }
}

/// The connection's handlers, carried into the upgrade's completion (which runs on its event loop).
private struct UncheckedHandlers: @unchecked Sendable {
    let requests: HTTPRequestHandler
    let connectionGuard: ConnectionGuard
}

/// The sending side of one WebSocket connection, usable from any thread. A client that does not
/// read (its socket buffer above the high-water mark) is disconnected at once rather than
/// buffered for, so one slow client never holds up the others; it reconnects and resubscribes.
/// Nothing is sent after a close frame.
public final class WebSocketConnection: Sendable {
    public let channel: Channel
    /// The client's IP address, as text.
    public let remote: String
    /// The server's connections, where the session counts the work it starts (`close` waits for it).
    public let connections: ServerConnections
    private let closing = Atomic<Bool>(false)

    init(channel: Channel, connections: ServerConnections) {
        self.channel = channel
        self.connections = connections
        remote = channel.remoteAddress?.ipAddress ?? ""
    }

    /// Sends one text message; false once the connection is closing.
    @discardableResult
    public func send(_ text: String) -> Bool {
        guard channel.isActive, !closing.load(ordering: .relaxed) else { return false }
        channel.eventLoop.execute { [self] in
            guard channel.isActive, !closing.load(ordering: .relaxed) else { return }
            guard channel.isWritable else {
                // A close frame would wait behind the unread data: drop the connection instead.
                closing.store(true, ordering: .relaxed)
                channel.close(promise: nil)
                return
            }
            let frame = WebSocketFrame(fin: true, opcode: .text, data: channel.allocator.buffer(string: text))
            channel.writeAndFlush(frame, promise: nil)
        }
        return true
    }

    /// Sends a close frame carrying `code` and `reason`, then closes; on the channel's event loop.
    func closeNow(code: WebSocketErrorCode, reason: String) {
        guard channel.isActive, !closing.exchange(true, ordering: .relaxed) else { return }
        var data = channel.allocator.buffer(capacity: 2 + reason.utf8.count)
        data.write(webSocketErrorCode: code)
        data.writeString(String(reason.prefix(120)))
        let channel = self.channel
        channel.writeAndFlush(WebSocketFrame(fin: true, opcode: .connectionClose, data: data)).whenComplete { _ in
            channel.close(promise: nil)
        }
    }

    public var isClosing: Bool { closing.load(ordering: .relaxed) }
}

/// Takes complete messages from NIO's aggregator: a text message (valid UTF-8) goes to the session;
/// answers pings, and closes on a close frame. A message over the limits (more than `maxMessage`
/// bytes, or more than `maxFragments` frames) closes the connection with 1009, a fragment out of
/// place with 1002, both counted.
private final class WebSocketFrameHandler: ChannelInboundHandler, @unchecked Sendable {
    // @unchecked: every field is touched on the channel's event loop only.
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private let session: WebSocketSession
    private let connection: WebSocketConnection
    private let counters: HTTPServerCounters
    private var ended = false

    init(session: WebSocketSession, connection: WebSocketConnection, counters: HTTPServerCounters) {
        self.session = session
        self.connection = connection
        self.counters = counters
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !connection.isClosing else { return }
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .text:
            guard let text = String(validating: frame.unmaskedData.readableBytesView, as: UTF8.self) else {
                return connection.closeNow(code: .dataInconsistentWithMessage, reason: "not UTF-8")
            }
            session.received(text)
        case .ping:
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData)), promise: nil)
        case .connectionClose:
            connection.closeNow(code: .normalClosure, reason: "")
        default:
            break
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        guard let error = error as? NIOWebSocketFrameAggregator.Error else { return context.fireErrorCaught(error) }
        switch error {
        case .accumulatedFrameSizeIsTooLarge, .tooManyFragments, .nonFinalFragmentSizeIsTooSmall:
            counters.count(.webSocketMessageLimits)
            connection.closeNow(code: .messageTooLarge, reason: error == .accumulatedFrameSizeIsTooLarge ? "a message is too large" : "a message in too many frames")
        case .receivedNewFrameWithoutFinishingPrevious:
            counters.count(.webSocketProtocol)
            connection.closeNow(code: .protocolError, reason: "a message inside another message")
        case .didReceiveFragmentBeforeReceivingTextOrBinaryFrame:
            counters.count(.webSocketProtocol)
            connection.closeNow(code: .protocolError, reason: "a continuation without a message")
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !ended {
            ended = true
            session.closed()
        }
        context.fireChannelInactive()
    }
}
