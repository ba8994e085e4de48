import NIOCore
import NIOHTTP1
import NIOWebSocket
import Synchronization

/// What a WebSocket connection's messages go to: `received` gets each complete text message (in
/// order, on the connection's event loop: hand work off rather than block), `closed` is called
/// once when the connection ends.
protocol WebSocketSession: Sendable {
    func received(_ text: String)
    func closed()
}

/// The WebSocket path of an `HTTPServer`: a GET of `path` with `Upgrade: websocket` becomes a
/// connection, and `open` makes its session.
struct WebSocketEndpoint: Sendable {
    let path: String
    /// The largest message a client may send (frames and whole messages).
    let maxMessage: Int
    let open: @Sendable (WebSocketConnection) -> WebSocketSession

    /// The server upgrade configuration: refuses other paths (they stay plain HTTP requests), and
    /// swaps `requests` for a frame handler once upgraded.
    func upgrade(replacing requests: RequestHandler, connections: Connections) -> NIOHTTPServerUpgradeSendableConfiguration {
        let path = self.path, maxMessage = self.maxMessage, open = self.open
        let upgrader = NIOWebSocketServerUpgrader(maxFrameSize: maxMessage, shouldUpgrade: { channel, head in
            let target = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
            return channel.eventLoop.makeSucceededFuture(target == path ? HTTPHeaders() : nil)
        }, upgradePipelineHandler: { channel, _ in
            channel.eventLoop.makeCompletedFuture {
                let connection = WebSocketConnection(channel: channel, connections: connections)
                try channel.pipeline.syncOperations.addHandler(WebSocketFrameHandler(session: open(connection), connection: connection,
                                                                                     maxMessage: maxMessage))
            }
        })
        let bound = UncheckedHandler(handler: requests)
        return (upgraders: [upgrader], completionHandler: { context in
            context.pipeline.syncOperations.removeHandler(bound.handler, promise: nil)
        })
    }
}

/// The request handler, carried into the upgrade's completion (which runs on its event loop).
private struct UncheckedHandler: @unchecked Sendable {
    let handler: RequestHandler
}

/// The sending side of one WebSocket connection, usable from any thread. A client that does not
/// read (its socket buffer above the high-water mark) is disconnected at once rather than
/// buffered for, so one slow client never holds up the others; it reconnects and resubscribes.
/// Nothing is sent after a close frame.
final class WebSocketConnection: Sendable {
    let channel: Channel
    /// The client's IP address, as text.
    let remote: String
    /// The server's connections, where the session counts the work it starts (`close` waits for it).
    let connections: Connections
    private let closing = Atomic<Bool>(false)

    init(channel: Channel, connections: Connections) {
        self.channel = channel
        self.connections = connections
        remote = channel.remoteAddress?.ipAddress ?? ""
    }

    /// Sends one text message; false once the connection is closing.
    @discardableResult
    func send(_ text: String) -> Bool {
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

    var isClosing: Bool { closing.load(ordering: .relaxed) }
}

/// Reassembles text messages from frames (at most `maxMessage` bytes, valid UTF-8), answers
/// pings, and closes on a close frame, a binary message or a protocol error, with the code that
/// says why.
private final class WebSocketFrameHandler: ChannelInboundHandler, @unchecked Sendable {
    // @unchecked: every field is touched on the channel's event loop only.
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private let session: WebSocketSession
    private let connection: WebSocketConnection
    private let maxMessage: Int
    private var message: [UInt8]?
    private var ended = false

    init(session: WebSocketSession, connection: WebSocketConnection, maxMessage: Int) {
        self.session = session
        self.connection = connection
        self.maxMessage = maxMessage
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !connection.isClosing else { return }
        let frame = unwrapInboundIn(data)
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
