import NIOCore

/// One frame's plaintext (docs/shadow.md, "Frames"): a type byte and its body.
public enum ShadowFrame: Sendable, Equatable {
    /// A control message (on a control connection, and a connection's first frame).
    case control(ControlMessage)
    /// Stream bytes.
    case data(ByteBuffer)
    /// The sender sends no more on this stream (TCP half-close).
    case end
    /// One UDP datagram and the public source it came from or goes to.
    case datagram(source: UInt32, payload: ByteBuffer)

    /// The largest plaintext, type byte included.
    public static let maxPlaintext = 65_536
    /// The largest frame body on the wire: plaintext and tag.
    public static let maxSealedLength = maxPlaintext + ShadowCipher.tagByteCount
    /// The most stream bytes one `data` frame carries.
    public static let maxData = maxPlaintext - 1

    enum Kind: UInt8 {
        case control = 1, data = 2, end = 3, datagram = 4
    }

    /// Writes the plaintext (type byte, then body) into `buffer`.
    func write(into buffer: inout ByteBuffer) {
        switch self {
        case .control(let message):
            buffer.writeInteger(Kind.control.rawValue)
            buffer.writeBytes(message.encoded)
        case .data(let bytes):
            buffer.writeInteger(Kind.data.rawValue)
            buffer.writeImmutableBuffer(bytes)
        case .end:
            buffer.writeInteger(Kind.end.rawValue)
        case .datagram(let source, let payload):
            buffer.writeInteger(Kind.datagram.rawValue)
            buffer.writeInteger(source)
            buffer.writeImmutableBuffer(payload)
        }
    }

    /// The plaintext's size.
    var plaintextCount: Int {
        switch self {
        case .control(let message): 1 + message.encoded.count
        case .data(let bytes): 1 + bytes.readableBytes
        case .end: 1
        case .datagram(_, let payload): 5 + payload.readableBytes
        }
    }

    /// Reads one plaintext.
    static func read(_ plaintext: ByteBuffer) throws(FrameError) -> ShadowFrame {
        var plaintext = plaintext
        guard let byte = plaintext.readInteger(as: UInt8.self) else { throw .malformed("an empty frame") }
        guard let kind = Kind(rawValue: byte) else { throw .malformed("unknown frame type \(byte)") }
        switch kind {
        case .control:
            do { return .control(try ControlMessage(decoding: Array(plaintext.readableBytesView))) } catch { throw .malformed(error.description) }
        case .data:
            guard plaintext.readableBytes > 0 else { throw .malformed("a data frame without data") }
            return .data(plaintext)
        case .end:
            guard plaintext.readableBytes == 0 else { throw .malformed("an end frame with a body") }
            return .end
        case .datagram:
            guard let source = plaintext.readInteger(as: UInt32.self) else { throw .malformed("a datagram frame without its source") }
            return .datagram(source: source, payload: plaintext)
        }
    }
}
