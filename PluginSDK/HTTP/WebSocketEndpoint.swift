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
    public let open: @Sendable (WebSocketConnection) -> WebSocketSession

    public init(path: String, maxMessage: Int, open: @escaping @Sendable (WebSocketConnection) -> WebSocketSession) {
        self.path = path
        self.maxMessage = maxMessage
        self.open = open
    }

    /// The server upgrade configuration: refuses other paths, methods and requests with a body (they
    /// stay plain HTTP requests), and swaps `requests` for a frame handler once upgraded (and stops
    /// the request deadlines).
    func upgrade(replacing requests: HTTPRequestHandler, guarding connectionGuard: ConnectionGuard, connections: ServerConnections,
                 counters: HTTPServerCounters) -> NIOHTTPServerUpgradeSendableConfiguration {
        let path = self.path, maxMessage = self.maxMessage, open = self.open
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
                try channel.pipeline.syncOperations.addHandler(WebSocketFrameHandler(session: open(connection), connection: connection,
                                                                                     maxMessage: maxMessage, counters: counters))
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
    fileprivate func closeNow(code: WebSocketErrorCode, reason: String) {
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

/// Reassembles text messages from frames (at most `maxMessage` bytes, valid UTF-8), answers
/// pings, and closes on a close frame, a binary message or a protocol error, with the code that
/// says why. RFC 6455's must-fail rules are kept (section 5): an unmasked client frame, RSV bits
/// without a negotiated extension, a reserved opcode, or a close frame with a 1-byte payload
/// closes the connection with 1002 (NIO's decoder already fails oversized or fragmented control
/// frames the same way).
private final class WebSocketFrameHandler: ChannelInboundHandler, @unchecked Sendable {
    // @unchecked: every field is touched on the channel's event loop only.
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private let session: WebSocketSession
    private let connection: WebSocketConnection
    private let maxMessage: Int
    private let counters: HTTPServerCounters
    private var message: [UInt8]?
    private var ended = false

    init(session: WebSocketSession, connection: WebSocketConnection, maxMessage: Int, counters: HTTPServerCounters) {
        self.session = session
        self.connection = connection
        self.maxMessage = maxMessage
        self.counters = counters
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !connection.isClosing else { return }
        let frame = unwrapInboundIn(data)
        if let violation = Self.violation(of: frame) {
            counters.count(.webSocketProtocol)
            return refuse(context, .protocolError, violation)
        }
        switch frame.opcode {
        case .text:
            guard message == nil else { return refuse(context, .protocolError, "a text frame inside another message") }
            message = []
            append(frame, context: context)
        case .continuation:
            guard message != nil else { return refuse(context, .protocolError, "a continuation without a message") }
            append(frame, context: context)
        case .binary:
            refuse(context, .unacceptableData, "only text (JSON) messages are accepted")
        case .ping:
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData)), promise: nil)
        case .connectionClose:
            connection.closeNow(code: .normalClosure, reason: "")
        default:
            break
        }
    }

    /// The RFC 6455 rule `frame` breaks, if any.
    private static func violation(of frame: WebSocketFrame) -> String? {
        if frame.maskKey == nil { return "a client frame must be masked" }
        if frame.rsv1 || frame.rsv2 || frame.rsv3 { return "RSV bits set without an extension" }
        switch frame.opcode {
        case .continuation, .text, .binary, .ping, .pong: return nil
        case .connectionClose: return frame.length == 1 ? "a close frame's payload is empty or at least 2 bytes" : nil
        default: return "reserved opcode \(frame.opcode)"
        }
    }

    private func append(_ frame: WebSocketFrame, context: ChannelHandlerContext) {
        var data = frame.unmaskedData
        guard (message?.count ?? 0) + data.readableBytes <= maxMessage else {
            return refuse(context, .messageTooLarge, "a message is at most \(maxMessage) bytes")
        }
        message? += data.readBytes(length: data.readableBytes) ?? []
        guard frame.fin, let bytes = message else { return }
        message = nil
        guard let text = String(validating: bytes, as: UTF8.self) else { return refuse(context, .dataInconsistentWithMessage, "not UTF-8") }
        session.received(text)
    }

    private func refuse(_ context: ChannelHandlerContext, _ code: WebSocketErrorCode, _ reason: String) {
        message = nil
        connection.closeNow(code: code, reason: reason)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !ended {
            ended = true
            session.closed()
        }
        context.fireChannelInactive()
    }
}
