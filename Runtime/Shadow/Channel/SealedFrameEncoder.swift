import NIOCore

/// Seals each outbound `ShadowFrame` as `length ‖ AEAD(plaintext)`, sealing in place in one buffer
/// per frame. Data larger than `dataPerFrame` takes several frames.
final class SealedFrameEncoder: ChannelOutboundHandler {
    typealias OutboundIn = ShadowFrame
    typealias OutboundOut = ByteBuffer
    private let key: SealingKey

    /// The most data one frame carries, so that the whole sealed frame (length, kind, data, tag)
    /// is 64 KiB. A ByteBuffer's capacity is rounded up to a power of two, and a frame of the
    /// protocol's largest size (`ShadowFrame.maxData`) took a 128 KiB buffer: at glibc's
    /// threshold for `mmap`, so every frame faulted in fresh zeroed pages (two fifths of the
    /// supernode's time under iperf3, by `perf`).
    static let dataPerFrame = 65_536 - 4 - 1 - ShadowCipher.tagByteCount

    init(key: SealingKey) { self.key = key }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        var frames = [unwrapOutboundIn(data)]
        if case .data(var bytes) = frames[0], bytes.readableBytes > Self.dataPerFrame {
            frames = []
            while bytes.readableBytes > 0 {
                frames.append(.data(bytes.readSlice(length: min(bytes.readableBytes, Self.dataPerFrame))!))
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
