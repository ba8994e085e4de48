import NIOCore

/// Seals each outbound `ShadowFrame` as `length ‖ AEAD(plaintext)`, sealing in place in one buffer
/// per frame. Data larger than a frame takes several.
final class SealedFrameEncoder: ChannelOutboundHandler {
    typealias OutboundIn = ShadowFrame
    typealias OutboundOut = ByteBuffer
    private let key: SealingKey

    init(key: SealingKey) { self.key = key }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        var frames = [unwrapOutboundIn(data)]
        if case .data(var bytes) = frames[0], bytes.readableBytes > ShadowFrame.maxData {
            frames = []
            while bytes.readableBytes > 0 {
                frames.append(.data(bytes.readSlice(length: min(bytes.readableBytes, ShadowFrame.maxData))!))
            }
        }
        for (index, frame) in frames.enumerated() {
            do {
                let sealed = try seal(frame, context: context)
                context.write(wrapOutboundOut(sealed), promise: index == frames.count - 1 ? promise : nil)
            } catch {
                // 2^63 frames: no connection lives that long; end it rather than reuse a nonce.
                promise?.fail(error)
                context.fireErrorCaught(error)
                return
            }
        }
    }

    private func seal(_ frame: ShadowFrame, context: ChannelHandlerContext) throws(FrameError) -> ByteBuffer {
        let count = frame.plaintextCount
        precondition(count <= ShadowFrame.maxPlaintext)
        let sealedLength = count + ShadowCipher.tagByteCount
        var buffer = context.channel.allocator.buffer(capacity: 4 + sealedLength)
        buffer.writeInteger(UInt32(sealedLength))
        frame.write(into: &buffer)
        let header = Array(buffer.getBytes(at: 0, length: 4)!)
        buffer.writeRepeatingByte(0, count: ShadowCipher.tagByteCount)
        try buffer.withUnsafeMutableReadableBytes { bytes throws(FrameError) in
            let region = UnsafeMutableRawBufferPointer(rebasing: bytes[4...])
            // In place: libsodium allows the ciphertext over the plaintext.
            try key.seal(UnsafeRawBufferPointer(rebasing: region[0..<count]), additional: header, into: region)
        }
        return buffer
    }
}
