import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket
import Synchronization

/// A WebSocket client for tests and benchmarks, on SwiftNIO: connects to `ws://HOST:PORT/PATH`,
/// sends text messages (masked, as a client must), and collects the text messages it receives.
/// `onMessage`, when given, is also called with each one on the event loop (the fan-out benchmark
/// timestamps arrivals there).
public final class TestWebSocket: Sendable {
    /// The connection could not be upgraded.
    public struct Refused: Error, CustomStringConvertible {
        public let description: String
    }

    private let channel: Channel
    private let inbox: Inbox

    /// What arrived: text messages in order, and the close code if the server closed.
    final class Inbox: Sendable {
        let messages = Mutex<[String]>([])
        let closeCode = Mutex<UInt16?>(nil)
        let onMessage: (@Sendable (String) -> Void)?
        init(onMessage: (@Sendable (String) -> Void)?) { self.onMessage = onMessage }
    }

    private init(channel: Channel, inbox: Inbox) {
        self.channel = channel
        self.inbox = inbox
    }

    public static func connect(host: String, port: Int, path: String = "/v1/ws", group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                               onMessage: (@Sendable (String) -> Void)? = nil) async throws -> TestWebSocket {
        let inbox = Inbox(onMessage: onMessage)
        let upgraded: EventLoopFuture<Channel?> = try await ClientBootstrap(group: group).connect(host: host, port: port) { channel in
            channel.eventLoop.makeCompletedFuture {
                let upgrader = NIOTypedWebSocketClientUpgrader<Channel?>(maxFrameSize: 1 << 20, upgradePipelineHandler: { channel, _ in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(Collector(inbox: inbox))
                        return channel
                    }
                })
                var headers = HTTPHeaders()
                headers.add(name: "Host", value: "\(host):\(port)")
                headers.add(name: "Content-Length", value: "0")
                let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: path, headers: headers)
                let configuration = NIOTypedHTTPClientUpgradeConfiguration<Channel?>(
                    upgradeRequestHead: head, upgraders: [upgrader],
                    notUpgradingCompletionHandler: { channel in channel.eventLoop.makeSucceededFuture(nil) })
                return try channel.pipeline.syncOperations.configureUpgradableHTTPClientPipeline(configuration: .init(upgradeConfiguration: configuration))
            }
        }
        guard let channel = try await upgraded.get() else { throw Refused(description: "the server did not upgrade \(path)") }
        return TestWebSocket(channel: channel, inbox: inbox)
    }

    /// Sends one text message.
    public func send(_ text: String) async throws {
        let frame = WebSocketFrame(fin: true, opcode: .text, maskKey: .random(), data: channel.allocator.buffer(string: text))
        try await channel.writeAndFlush(frame)
    }

    /// Sends raw frame bytes' worth: a binary message (which the server must refuse).
    public func sendBinary(_ bytes: [UInt8]) async throws {
        let frame = WebSocketFrame(fin: true, opcode: .binary, maskKey: .random(), data: channel.allocator.buffer(bytes: bytes))
        try await channel.writeAndFlush(frame)
    }

    /// Everything received so far.
    public var received: [String] { inbox.messages.withLock { $0 } }

    /// The close code the server sent, if it closed.
    public var closeCode: UInt16? { inbox.closeCode.withLock { $0 } }

    /// Waits for the first received message (from `start` on) that contains `text`.
    public func message(containing text: String, from start: Int = 0, within limit: Duration = .seconds(10)) async -> String? {
        var found: String?
        _ = await eventually(within: limit) {
            found = received.dropFirst(start).first { $0.contains(text) }
            return found != nil
        }
        return found
    }

    public func close() async {
        try? await channel.close()
    }

    /// Collects text messages and notes a close.
    private final class Collector: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = WebSocketFrame
        typealias OutboundOut = WebSocketFrame
        let inbox: Inbox
        var partial: [UInt8] = []

        init(inbox: Inbox) { self.inbox = inbox }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let frame = unwrapInboundIn(data)
            var bytes = frame.unmaskedData
            switch frame.opcode {
            case .text, .continuation:
                partial += bytes.readBytes(length: bytes.readableBytes) ?? []
                guard frame.fin else { return }
                let text = String(decoding: partial, as: UTF8.self)
                partial = []
                inbox.messages.withLock { $0.append(text) }
                inbox.onMessage?(text)
            case .connectionClose:
                let code = bytes.readInteger(as: UInt16.self)
                inbox.closeCode.withLock { $0 = code }
                context.close(promise: nil)
            default:
                break
            }
        }
    }
}
