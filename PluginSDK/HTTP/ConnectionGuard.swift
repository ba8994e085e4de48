import NIOCore
import NIOHTTP1

/// Deadlines and backpressure for one HTTP connection. It is first in the pipeline, so it sees
/// the raw bytes (the first byte of a request starts its header deadline) and can write a
/// refusal whatever state the HTTP handlers are in. The request handler tells it where the
/// request stands (`headReceived`, `bodyReceived`, `requestEnded`, `answerEnded`).
///
/// - **Deadlines**, checked every second: a connection waiting for a request is closed after
///   `idleTimeout`; a head must be complete `headerTimeout` after its first byte; a body must
///   keep to `bodyRateFloor` once `bodyGrace` has passed (both answered 408).
/// - **Backpressure**: while the socket is over its high-water mark (the client does not read its
///   answers), nothing more is read from it (and the request handler holds its next answer);
///   unwritable for `writeStallTimeout`, it is closed.
///
/// Thread contract: every method runs on the channel's event loop (NIO calls it there; the
/// request handler, in the same pipeline, calls it there).
final class ConnectionGuard: ChannelDuplexHandler, @unchecked Sendable {
    // @unchecked: every field is touched on the channel's event loop only.
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    private enum Phase {
        case idle(since: NIODeadline)
        case head(since: NIODeadline)
        case body(since: NIODeadline, bytes: Int)
        case answering
        /// A WebSocket or a streamed answer: the connection lives as long as both sides want.
        case unwatched
    }

    private let limits: HTTPServerLimits
    private let counters: HTTPServerCounters
    private let refusal: @Sendable (HTTPResponseStatus, String) -> HTTPAnswer
    private var phase: Phase = .idle(since: .now())
    private var context: ChannelHandlerContext?
    private var timer: RepeatedTask?
    private var readPending = false
    private var unwritableSince: NIODeadline?
    /// Bytes arrived while an answer was being worked out (a pipelined request's head).
    private var bytesWhileAnswering = false
    private var closing = false

    init(limits: HTTPServerLimits, counters: HTTPServerCounters, refusal: @escaping @Sendable (HTTPResponseStatus, String) -> HTTPAnswer) {
        self.limits = limits
        self.counters = counters
        self.refusal = refusal
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        phase = .idle(since: .now())
        timer = context.eventLoop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { [self] _ in check() }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        context.fireChannelInactive()
    }

    // MARK: Inbound bytes and reads

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch phase {
        case .idle: phase = .head(since: .now())
        case .answering: bytesWhileAnswering = true
        case .head, .body, .unwatched: break
        }
        context.fireChannelRead(data)
    }

    func read(context: ChannelHandlerContext) {
        if context.channel.isWritable { context.read() } else { readPending = true }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            unwritableSince = nil
            // The wait for the next request starts now, not while the client was not reading.
            if case .idle = phase { phase = .idle(since: .now()) }
            if readPending {
                readPending = false
                context.read()
            }
        } else if unwritableSince == nil {
            unwritableSince = .now()
        }
        context.fireChannelWritabilityChanged()
    }

    // MARK: Where the request stands (from the request handler)

    func headReceived() { phase = .body(since: .now(), bytes: 0) }

    func bodyReceived(_ count: Int) {
        if case .body(let since, let bytes) = phase { phase = .body(since: since, bytes: bytes + count) }
    }

    func requestEnded() {
        phase = .answering
        bytesWhileAnswering = false
    }

    /// The answer's end was written: the connection waits for the next request (or has its head
    /// already).
    func answerEnded() {
        phase = bytesWhileAnswering ? .head(since: .now()) : .idle(since: .now())
    }

    /// The connection became a WebSocket or holds a streamed answer: no more request deadlines.
    func stopWatching() { phase = .unwatched }

    /// Answers `status` with `message` (in the server's error form) and closes the connection,
    /// whatever the HTTP handlers were doing; counted as `reason`.
    func refuse(_ reason: HTTPServerCounters.Refusal, _ status: HTTPResponseStatus, _ message: String) {
        guard let context, !closing else { return }
        closing = true
        counters.count(reason)
        let answer = refusal(status, message)
        var bytes = context.channel.allocator.buffer(capacity: 256 + answer.body.utf8.count)
        bytes.writeString("HTTP/1.1 \(status.code) \(status.reasonPhrase)\r\nContent-Type: \(answer.contentType)\r\n")
        bytes.writeString("Content-Length: \(answer.body.utf8.count)\r\nConnection: close\r\n\r\n\(answer.body)")
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.byteBuffer(bytes))).whenComplete { _ in channel.close(promise: nil) }
    }

    // MARK: Deadlines

    private func check() {
        guard !closing else { return }
        let now = NIODeadline.now()
        // A connection with answers unread waits on its client, not the other way round: only the
        // write-stall deadline applies (nothing is read from it meanwhile).
        if let since = unwritableSince {
            if now - since > .init(limits.writeStallTimeout) { drop(.writeStall) }
            return
        }
        switch phase {
        case .idle(let since) where now - since > .init(limits.idleTimeout):
            drop(.idleTimeout)
        case .head(let since) where now - since > .init(limits.headerTimeout):
            refuse(.headerTimeout, .requestTimeout, "the request head took over \(limits.headerTimeout.components.seconds) s")
        case .body(let since, let bytes):
            let elapsed = Double((now - since).nanoseconds) / 1e9
            guard elapsed > Double(limits.bodyGrace.components.seconds), Double(bytes) < Double(limits.bodyRateFloor) * elapsed else { return }
            refuse(.slowBody, .requestTimeout, "the body arrives slower than \(limits.bodyRateFloor) bytes a second")
        default:
            break
        }
    }

    /// Closes without an answer (the client is not reading, or has nothing to say).
    private func drop(_ reason: HTTPServerCounters.Refusal) {
        guard let context, !closing else { return }
        closing = true
        counters.count(reason)
        context.close(promise: nil)
    }
}

extension TimeAmount {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
