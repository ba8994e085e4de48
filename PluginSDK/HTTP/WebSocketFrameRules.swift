import NIOCore
import NIOWebSocket

/// Checks each frame as it arrives, before messages are reassembled. RFC 6455's must-fail rules
/// (section 5): an unmasked client frame, RSV bits without a negotiated extension, a reserved
/// opcode, or a close frame with a 1-byte payload closes the connection with 1002, counted (NIO's
/// decoder already fails oversized or fragmented control frames the same way). A binary frame
/// closes it with 1003: only text (JSON) messages are accepted. Frames after a close are dropped.
final class WebSocketFrameRules: ChannelInboundHandler, @unchecked Sendable {
    // @unchecked: used on the channel's event loop only.
    typealias InboundIn = WebSocketFrame
    typealias InboundOut = WebSocketFrame

    private let connection: WebSocketConnection
    private let counters: HTTPServerCounters

    init(connection: WebSocketConnection, counters: HTTPServerCounters) {
        self.connection = connection
        self.counters = counters
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !connection.isClosing else { return }
        let frame = unwrapInboundIn(data)
        if let violation = Self.violation(of: frame) {
            counters.count(.webSocketProtocol)
            return connection.closeNow(code: .protocolError, reason: violation)
        }
        guard frame.opcode != .binary else { return connection.closeNow(code: .unacceptableData, reason: "only text (JSON) messages are accepted") }
        context.fireChannelRead(data)
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
}
