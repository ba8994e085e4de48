import NIOCore

/// One side of a relayed stream: the public connection (plain bytes) or the data connection
/// (sealed `ShadowFrame`s). Each side hands what it reads to its partner's channel, and stops
/// reading while the partner cannot keep up, so a slow reader holds at most its channels'
/// buffers and stalls no other stream.
///
/// Backpressure: a side whose channel turns unwritable tells its partner (`PartnerWritability`,
/// through the partner's pipeline), and the partner holds its channel's next `read` until the
/// channel is writable again. Holding `read` in the pipeline, rather than switching `autoRead`
/// off and on (which in SwiftNIO reads again without passing the pipeline), lets other handlers
/// hold reads too: the supernode's byte-rate throttle does.
///
/// Ends: EOF on the plain side becomes an `end` frame; an `end` frame shuts the plain side's
/// write half (half-close). Once a side has both sent and received its end, it closes. A side
/// that closes otherwise (an error, a data connection gone without `end`) closes its partner.
/// The two channels may run on different event loops: everything crossing goes through the
/// partner's thread-safe `Channel` methods.
final class StreamRelaySide {
    private(set) var partner: Channel?
    private(set) var inputEnded = false
    private var outputEnded = false
    /// Both ends passed: the stream finished rather than being cut off.
    private var finished = false
    /// Bytes relayed from this side to the partner (for metering).
    private(set) var bytesForwarded = 0
    /// Whether the partner's channel takes more writes now.
    private var partnerWritable = true
    /// A `read` held back while the partner was unwritable (or the side waited for it).
    private var readHeld = false

    /// Starts reading this side. The partner starts reading when its own handler attaches (not
    /// here: what it read before that would find no handler and be lost).
    /// Writability changes from before (the partner's, or ours while we had no partner to tell)
    /// are taken into account here: they found no one to hear them.
    func attach(_ partner: Channel, context: ChannelHandlerContext) {
        self.partner = partner
        readHeld = false
        partnerWritable = partner.isWritable
        if !context.channel.isWritable { partner.pipeline.fireUserInboundEventTriggered(PartnerWritability(isWritable: false)) }
        context.channel.setOption(ChannelOptions.autoRead, value: true).whenFailure { _ in }
        read(context: context)
    }

    /// The pipeline asks to read: passed on unless the partner cannot keep up, or `hold` says so.
    func read(context: ChannelHandlerContext, hold: Bool = false) {
        guard partnerWritable, !hold else {
            readHeld = true
            return
        }
        context.read()
    }

    /// The partner's channel turned writable or unwritable.
    func partnerWritabilityChanged(_ writable: Bool, context: ChannelHandlerContext) {
        partnerWritable = writable
        if writable && readHeld {
            readHeld = false
            context.read()
        }
    }

    func forwarded(_ count: Int) { bytesForwarded += count }

    /// Our side will receive no more: tell the partner (it ends its output).
    func inputDidEnd(context: ChannelHandlerContext) {
        inputEnded = true
        closeIfDone(context: context)
    }

    /// We have sent our end to our peer.
    func outputDidEnd(context: ChannelHandlerContext) {
        outputEnded = true
        closeIfDone(context: context)
    }

    /// Closes once both ends passed. The partner is left to finish on its own: its writes may
    /// still be pending behind a slow reader.
    private func closeIfDone(context: ChannelHandlerContext) {
        guard inputEnded && outputEnded else { return }
        finished = true
        context.close(promise: nil)
    }

    func writabilityChanged(context: ChannelHandlerContext) {
        partner?.pipeline.fireUserInboundEventTriggered(PartnerWritability(isWritable: context.channel.isWritable))
    }

    /// Our channel closed: a stream cut off (not `finished`) closes its partner too.
    func closed() {
        if !finished { partner?.close(promise: nil) }
        partner = nil
    }
}

/// The plain side of a stream (the public connection on the supernode, the local service's on
/// the client). It is in the pipeline from the connection's first moment and keeps what arrives
/// before its partner exists (bytes and an early end, at most `earlyLimit` bytes, after which it
/// stops reading); `attach(to:)` hands that over and starts relaying. A connection that closed
/// before it was attached closes the partner at once. Its partner is a sealed connection, or
/// (`plainPartner`, as `carrier shadow connect` pairs a local client with a public endpoint)
/// another plain one with a `PlainRelayHandler` of its own.
public final class PlainRelayHandler: ChannelDuplexHandler {
    public typealias InboundIn = ByteBuffer
    public typealias OutboundIn = ByteBuffer

    /// Bytes kept before the partner exists; beyond it the connection is not read until then.
    public static let earlyLimit = 262_144

    let side = StreamRelaySide()
    private let onClose: @Sendable (Int) -> Void
    private var context: ChannelHandlerContext?
    private var early: [ByteBuffer] = []
    private var earlyBytes = 0
    private var endedEarly = false
    private var closed = false

    private let plainPartner: Bool

    /// `onClose(bytes)` gets the bytes this side read and handed on, once it has closed.
    public init(plainPartner: Bool = false, onClose: @escaping @Sendable (Int) -> Void = { _ in }) {
        self.plainPartner = plainPartner
        self.onClose = onClose
    }

    public func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    /// Starts relaying to and from `partner` (the sealed connection), beginning with what came
    /// early. Call it on this channel's event loop.
    public func attach(to partner: Channel) {
        guard let context, !closed else { return partner.close(promise: nil) }
        context.eventLoop.preconditionInEventLoop()
        side.attach(partner, context: context)
        for bytes in early { forward(bytes) }
        early = []
        partner.flush()
        if endedEarly { inputEnded(context: context) }
    }

    private func forward(_ bytes: ByteBuffer) {
        side.forwarded(bytes.readableBytes)
        if plainPartner { side.partner?.write(bytes, promise: nil) } else { side.partner?.write(ShadowFrame.data(bytes), promise: nil) }
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        guard side.partner != nil else {
            early.append(bytes)
            earlyBytes += bytes.readableBytes
            return
        }
        forward(bytes)
    }

    public func read(context: ChannelHandlerContext) {
        side.read(context: context, hold: side.partner == nil && earlyBytes >= Self.earlyLimit)
    }

    public func channelReadComplete(context: ChannelHandlerContext) {
        side.partner?.flush()
    }

    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            if side.partner == nil { endedEarly = true } else { inputEnded(context: context) }
        } else if event is PartnerEnded {
            endOutput(context: context)
        } else if let event = event as? PartnerWritability {
            return side.partnerWritabilityChanged(event.isWritable, context: context)
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func inputEnded(context: ChannelHandlerContext) {
        if plainPartner {
            side.partner?.flush()
            side.partner?.pipeline.fireUserInboundEventTriggered(PartnerEnded())
        } else {
            side.partner?.writeAndFlush(ShadowFrame.end, promise: nil)
        }
        side.inputDidEnd(context: context)
    }

    /// The partner's `end`: no more bytes for this side's peer, once those written are sent (a
    /// half-close of a connection whose input already ended is a full close in SwiftNIO, which
    /// would drop writes still pending behind a slow reader).
    private func endOutput(context: ChannelHandlerContext) {
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        context.writeAndFlush(NIOAny(context.channel.allocator.buffer(capacity: 0))).whenComplete { _ in
            let (handler, context) = bound.value
            context.close(mode: .output, promise: nil)
            handler.side.outputDidEnd(context: context)
        }
    }

    public func channelWritabilityChanged(context: ChannelHandlerContext) {
        side.writabilityChanged(context: context)
        context.fireChannelWritabilityChanged()
    }

    public func channelInactive(context: ChannelHandlerContext) {
        closed = true
        early = []
        side.closed()
        onClose(side.bytesForwarded)
        context.fireChannelInactive()
    }

    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

/// The sealed side of a stream: `data` and `end` frames in, plain bytes out as `data` frames.
public final class SealedRelayHandler: ChannelDuplexHandler {
    public typealias InboundIn = ShadowFrame
    public typealias OutboundIn = ShadowFrame
    public typealias OutboundOut = ShadowFrame

    let side = StreamRelaySide()
    private let partner: Channel
    private let onClose: @Sendable (Int) -> Void

    /// Relays to and from `partner` (the plain connection); `onClose(bytes)` gets the bytes this
    /// side read and handed on, once it has closed.
    public init(partner: Channel, onClose: @escaping @Sendable (Int) -> Void = { _ in }) {
        self.partner = partner
        self.onClose = onClose
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        side.attach(partner, context: context)
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .data(let bytes):
            side.forwarded(bytes.readableBytes)
            side.partner?.write(bytes, promise: nil)
        case .end:
            side.partner?.pipeline.fireUserInboundEventTriggered(PartnerEnded())
            side.inputDidEnd(context: context)
        case .control, .datagram:
            context.fireErrorCaught(FrameError.malformed("a control or datagram frame inside a stream"))
            context.close(promise: nil)
        }
    }

    public func channelReadComplete(context: ChannelHandlerContext) {
        side.partner?.flush()
    }

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard case .end = unwrapOutboundIn(data) else { return context.write(data, promise: promise) }
        // Our end is done once it is written: closing before would drop the frames still pending.
        let written = context.eventLoop.makePromise(of: Void.self)
        let bound = NIOLoopBound((side, context), eventLoop: context.eventLoop)
        written.futureResult.whenComplete { _ in
            let (side, context) = bound.value
            side.outputDidEnd(context: context)
        }
        written.futureResult.cascade(to: promise)
        context.write(data, promise: written)
    }

    public func channelWritabilityChanged(context: ChannelHandlerContext) {
        side.writabilityChanged(context: context)
        context.fireChannelWritabilityChanged()
    }

    public func read(context: ChannelHandlerContext) {
        side.read(context: context)
    }

    /// TCP's end without an `end` frame first: the stream is cut off (or truncated by someone
    /// on the path), not finished; both connections close.
    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed, !side.inputEnded {
            context.close(promise: nil)
        } else if let event = event as? PartnerWritability {
            return side.partnerWritabilityChanged(event.isWritable, context: context)
        }
        context.fireUserInboundEventTriggered(event)
    }

    public func channelInactive(context: ChannelHandlerContext) {
        side.closed()
        onClose(side.bytesForwarded)
        context.fireChannelInactive()
    }

    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

/// Fired into the plain side's pipeline when the sealed side read `end`.
struct PartnerEnded {}

/// Fired into a side's pipeline when its partner's channel turns writable or unwritable.
struct PartnerWritability {
    var isWritable: Bool
}
