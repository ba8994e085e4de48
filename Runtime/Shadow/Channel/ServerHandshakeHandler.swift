import CarrierCore
import NIOCore
import NIOPosix

/// The supernode's end of a connection's handshake: reads the hello, answers it signed (the
/// signature is made on `signing`'s threads: under process isolation the node key's `sign` is a
/// round trip to the host, which must not hold the event loop), checks the proof, then installs
/// the frame codec and leaves, firing `ShadowAuthenticated`. A failure fires its `HandshakeError`
/// and closes the connection.
public final class ServerHandshakeHandler: ChannelInboundHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer
    public typealias Signer = @Sendable ([UInt8]) throws -> [UInt8]

    private enum State {
        case awaitingHello
        case signing
        case awaitingProof(ServerHandshake)
        case done
    }

    private let server: Id
    private let sign: Signer
    private let signing: NIOThreadPool
    private var state = State.awaitingHello
    private var received: ByteBuffer?
    private var deadline: Scheduled<Void>?

    public init(server: Id, signing: NIOThreadPool, sign: @escaping Signer) {
        self.server = server
        self.signing = signing
        self.sign = sign
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        let channel = context.channel
        deadline = context.eventLoop.scheduleTask(in: HandshakeTimeout.limit) {
            channel.pipeline.fireErrorCaught(HandshakeTimeout())
            channel.close(promise: nil)
        }
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        if received == nil { received = bytes } else { received!.writeBuffer(&bytes) }
        advance(context: context)
    }

    private func advance(context: ChannelHandlerContext) {
        switch state {
        case .awaitingHello:
            guard let hello = received?.readBytes(length: HandshakeLayout.helloByteCount) else { return }
            state = .signing
            let server = self.server, sign = self.sign
            let loop = context.eventLoop
            let answered = signing.runIfActive(eventLoop: loop) {
                Result { () throws(HandshakeError) in try ServerHandshake(hello: hello, server: server, sign: sign) }
            }
            let bound = NIOLoopBound((self, context), eventLoop: loop)
            answered.whenComplete { outcome in
                let (handler, context) = bound.value
                switch outcome {
                case .success(.success(let handshake)):
                    handler.state = .awaitingProof(handshake)
                    context.writeAndFlush(NIOAny(context.channel.allocator.buffer(bytes: handshake.reply)), promise: nil)
                    handler.advance(context: context)
                case .success(.failure(let error)): handler.fail(error, context: context)
                case .failure(let error): handler.fail(error, context: context)
                }
            }
        case .signing, .done:
            return
        case .awaitingProof(let handshake):
            guard let proof = received?.readBytes(length: HandshakeLayout.proofByteCount) else { return }
            state = .done
            do {
                let keys = try handshake.finish(proof: proof)
                try context.pipeline.syncOperations.installFrames(keys, after: self)
                context.fireUserInboundEventTriggered(ShadowAuthenticated(peer: handshake.client, cipher: keys.cipher))
                if let rest = received, rest.readableBytes > 0 { context.fireChannelRead(NIOAny(rest)) }
                received = nil
                context.pipeline.syncOperations.removeHandler(self, promise: nil)
            } catch {
                fail(error, context: context)
            }
        }
    }

    private func fail(_ error: any Error, context: ChannelHandlerContext) {
        state = .done
        context.fireErrorCaught(error)
        context.close(promise: nil)
    }
}
