import CarrierCore
import NIOCore

/// The node's end of a connection's handshake with the supernode `server`: sends the hello when
/// the connection is up, checks the reply's signature against `server`, sends the proof, then
/// installs the frame codec and leaves, firing `ShadowAuthenticated`. A failure fires its
/// `HandshakeError` and closes the connection.
public final class ClientHandshakeHandler: ChannelInboundHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer

    private let handshake: ClientHandshake
    private let server: Id
    private var received: ByteBuffer?
    private var finished = false
    private var deadline: Scheduled<Void>?

    public init(identity: KeyPair, server: Id, offer: UInt8 = ShadowCipher.localOffer) {
        self.server = server
        handshake = ClientHandshake(identity: identity, server: server, offer: offer)
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        let channel = context.channel
        deadline = context.eventLoop.scheduleTask(in: HandshakeTimeout.limit) {
            channel.pipeline.fireErrorCaught(HandshakeTimeout())
            channel.close(promise: nil)
        }
        if context.channel.isActive { sendHello(context: context) }
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
    }

    public func channelActive(context: ChannelHandlerContext) {
        sendHello(context: context)
        context.fireChannelActive()
    }

    private var helloSent = false
    private func sendHello(context: ChannelHandlerContext) {
        guard !helloSent else { return }
        helloSent = true
        context.writeAndFlush(NIOAny(context.channel.allocator.buffer(bytes: handshake.hello)), promise: nil)
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !finished else { return }
        var bytes = unwrapInboundIn(data)
        if received == nil { received = bytes } else { received!.writeBuffer(&bytes) }
        guard let reply = received?.readBytes(length: HandshakeLayout.replyByteCount) else { return }
        finished = true
        do {
            let (proof, keys) = try handshake.finish(reply: reply)
            context.writeAndFlush(NIOAny(context.channel.allocator.buffer(bytes: proof)), promise: nil)
            try context.pipeline.syncOperations.installFrames(keys, after: self)
            context.fireUserInboundEventTriggered(ShadowAuthenticated(peer: server, cipher: keys.cipher))
            if let rest = received, rest.readableBytes > 0 { context.fireChannelRead(NIOAny(rest)) }
            received = nil
            context.pipeline.syncOperations.removeHandler(self, promise: nil)
        } catch {
            context.fireErrorCaught(error)
            context.close(promise: nil)
        }
    }
}
