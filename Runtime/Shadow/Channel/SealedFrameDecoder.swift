import NIOCore

/// Reads sealed frames (`length ‖ AEAD`) and passes their plaintexts on as `ShadowFrame`s. A frame
/// that is too long, does not authenticate or does not parse closes the connection with that
/// error (fired as `errorCaught`); a connection that ends inside a frame is an error too.
final class SealedFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = ShadowFrame
    private let key: SealingKey

    init(key: SealingKey) { self.key = key }

    func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return .needMoreData }
        guard length <= UInt32(ShadowFrame.maxSealedLength), length > UInt32(ShadowCipher.tagByteCount) else { throw FrameError.tooLong(length) }
        guard buffer.readableBytes >= 4 + Int(length) else { return .needMoreData }
        let header = Array(buffer.readBytes(length: 4)!)
        var sealed = buffer.readSlice(length: Int(length))!
        var plaintext = context.channel.allocator.buffer(capacity: Int(length) - ShadowCipher.tagByteCount)
        _ = try sealed.withUnsafeReadableBytes { input throws(FrameError) in
            try plaintext.writeWithUnsafeMutableBytes(minimumWritableBytes: input.count - ShadowCipher.tagByteCount) { output throws(FrameError) in
                try key.open(input, additional: header, into: output)
                return input.count - ShadowCipher.tagByteCount
            }
        }
        sealed.moveReaderIndex(forwardBy: sealed.readableBytes)
        context.fireChannelRead(wrapInboundOut(try ShadowFrame.read(plaintext)))
        return .continue
    }

    func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        if buffer.readableBytes > 0 { throw FrameError.malformed("the connection ended inside a frame") }
        return .needMoreData
    }
}
