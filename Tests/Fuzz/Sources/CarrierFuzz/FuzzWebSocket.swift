/// Target `websocket`: the bytes a client sends after a successful upgrade, into the proxy's
/// WebSocket path (NIO's frame decoder and protocol-error handler, `WebSocketFrameRules`, NIO's
/// frame aggregator, then `WebSocketFrameHandler`),
/// with a session that records the messages it is given.
///
/// Input: `[split] [flags] frames…`. Each run opens a connection of the server, sends a valid
/// upgrade request for the endpoint's path (which must be answered 101), then the frames in two
/// reads cut at `split`/256. Flag 1: the first read carries the upgrade request and the frames
/// before the cut together (the upgrade hands bytes it read past the request to the decoder).
///
/// The invariant is a model of RFC 6455 as the server applies it (`expectedExchange`): the frames
/// the model accepts give exactly the messages the session got, each ping a pong, and the first
/// frame that breaks a rule (unmasked, RSV bits, a reserved opcode, a fragmented or long control
/// frame, a 1-byte close, a continuation without a message or a text frame inside one, binary, over
/// `maxMessage` or `maxFragments`, not UTF-8) or a close a close frame with the code the RFC gives, after which the
/// connection is closed and nothing more is delivered. A session sees `closed()` once, last.
import CarrierHTTP
import NIOCore
import NIOHTTP1
import Synchronization

func fuzzWebSocket(_ input: [UInt8]) {
    let split = input.first.map(Int.init) ?? 0, flags = input.count > 1 ? input[1] : 0
    let frames = input.dropFirst(2)
    let cut = frames.startIndex + frames.count * split / 256
    let session = RecordingSession()
    let endpoint = WebSocketEndpoint(path: WebSocketFuzzing.path, maxMessage: WebSocketFuzzing.maxMessage,
                                     maxFragments: WebSocketFuzzing.maxFragments) { _ in session }
    let connection = EmbeddedHTTPConnection(limits: HTTPServerLimits(), webSocket: endpoint) { request in
        fatalError("the upgrade request reached respond: \(request.method) \(request.path)")
    }
    if flags & 1 != 0 {
        connection.receive(WebSocketFuzzing.upgradeRequest + frames[..<cut])
    } else {
        connection.receive(WebSocketFuzzing.upgradeRequest)
        connection.receive(frames[..<cut])
    }
    connection.receive(frames[cut...])
    let openBeforeFinish = connection.isActive
    connection.finish()

    let sent = connection.sent
    show("sent", sent)
    guard sent.starts(with: Array("HTTP/1.1 101 Switching Protocols\r\n".utf8)),
          let headEnd = sent.firstRange(of: Array("\r\n\r\n".utf8))?.upperBound else {
        fatalError("the upgrade was not answered 101: \(String(decoding: sent.prefix(200), as: UTF8.self).debugDescription)")
    }
    let expected = expectedExchange(Array(frames), maxMessage: WebSocketFuzzing.maxMessage, maxFragments: WebSocketFuzzing.maxFragments)
    let got = session.record.withLock { $0 }
    invariant(got.messages == expected.messages, "the session got \(got.messages), the model expects \(expected.messages)")
    let replies = serverFrames(Array(sent[headEnd...]))
    invariant(replies == expected.replies, "the server sent \(replies), the model expects \(expected.replies)")
    invariant(openBeforeFinish == (expected.closeCode == nil),
              "the connection is \(openBeforeFinish ? "open" : "closed"); the model expects close code \(expected.closeCode.map(String.init) ?? "none")")
    invariant(got.closedCount == 1 && !got.receivedAfterClose, "closed() called \(got.closedCount) times, received after it: \(got.receivedAfterClose)")
}

enum WebSocketFuzzing {
    static let path = "/v1/ws"
    /// Small, so that short inputs reach the message and frame limits.
    static let maxMessage = 256
    static let maxFragments = 4
    static let upgradeRequest = Array(("GET \(path) HTTP/1.1\r\nHost: proxy\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n").utf8)
}

/// Records what the server gives a session.
private final class RecordingSession: WebSocketSession {
    struct Record {
        var messages: [String] = []
        var closedCount = 0
        var receivedAfterClose = false
    }

    let record = Mutex(Record())

    func received(_ text: String) {
        record.withLock {
            $0.messages.append(text)
            if $0.closedCount > 0 { $0.receivedAfterClose = true }
        }
    }

    func closed() { record.withLock { $0.closedCount += 1 } }
}

/// A frame the server sends: its opcode, and its payload (for a close frame, just the code's two
/// bytes: the reason is free text).
struct ServerFrame: Equatable, CustomStringConvertible {
    var opcode: UInt8
    var payload: [UInt8]
    var description: String { "\(opcode == 0x8 ? "close" : opcode == 0xA ? "pong" : "opcode \(opcode)")\(payload)" }
}

/// What the server should do with `frames`: the messages delivered, the frames sent back, and
/// the code of its close frame (nil: the connection stays open, waiting for more).
func expectedExchange(_ frames: [UInt8], maxMessage: Int, maxFragments: Int) -> (messages: [String], replies: [ServerFrame], closeCode: UInt16?) {
    var messages: [String] = [], replies: [ServerFrame] = [], message: [UInt8]?, fragments = 0
    var position = 0
    func closing(_ code: UInt16) -> (messages: [String], replies: [ServerFrame], closeCode: UInt16?) {
        (messages, replies + [ServerFrame(opcode: 0x8, payload: [UInt8(code >> 8), UInt8(code & 0xFF)])], code)
    }
    func take(_ count: Int) -> ArraySlice<UInt8>? {
        guard frames.count - position >= count else { return nil }
        defer { position += count }
        return frames[position..<(position + count)]
    }
    while true {
        guard let header = take(2) else { break }
        let first = header.first!, second = header.last!
        let fin = first & 0x80 != 0, rsv = first & 0x70, opcode = first & 0x0F, masked = second & 0x80 != 0
        var length = Int(second & 0x7F)
        if length == 126 {
            guard let word = take(2) else { break }
            length = word.reduce(0) { $0 << 8 | Int($1) }
        } else if length == 127 {
            guard let qword = take(8) else { break }
            let value = qword.reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            // NIO's decoder: a length over Int.max or the frame limit is 1009, a control frame
            // fragmented or over 125 bytes 1002, as soon as the length is known.
            guard value <= UInt64(Int.max) else { return closing(1009) }
            length = Int(value)
        }
        if length > maxMessage { return closing(1009) }
        if opcode & 0x08 != 0, !fin || length > 125 { return closing(1002) }
        var key: [UInt8] = [0, 0, 0, 0]
        if masked {
            guard let bytes = take(4) else { break }
            key = Array(bytes)
        }
        guard let data = take(length) else { break }
        let payload = data.enumerated().map { $0.element ^ key[$0.offset % 4] }
        // WebSocketFrameRules: RFC 6455's must-fail rules; then NIO's aggregator and WebSocketFrameHandler.
        guard masked, rsv == 0, [0x0, 0x1, 0x2, 0x8, 0x9, 0xA].contains(opcode), opcode != 0x8 || length != 1 else { return closing(1002) }
        switch opcode {
        case 0x1, 0x0:
            if opcode == 0x1 {
                guard message == nil else { return closing(1002) }
                message = []
                fragments = 0
            } else {
                guard message != nil else { return closing(1002) }
            }
            // NIO's aggregator: at most maxFragments frames, and a non-final one leaves room for the last.
            guard fragments < maxFragments, fin || fragments + 1 < maxFragments else { return closing(1009) }
            fragments += 1
            guard message!.count + payload.count <= maxMessage else { return closing(1009) }
            message! += payload
            if fin {
                guard let text = String(validating: message!, as: UTF8.self) else { return closing(1007) }
                messages.append(text)
                message = nil
            }
        case 0x2: return closing(1003)
        case 0x9: replies.append(ServerFrame(opcode: 0xA, payload: payload))
        case 0x8: return closing(1000)
        default: break
        }
    }
    return (messages, replies, nil)
}

/// The frames in what the server sent after its 101 (unmasked, as a server's are).
private func serverFrames(_ bytes: [UInt8]) -> [ServerFrame] {
    var frames: [ServerFrame] = [], position = 0
    while bytes.count - position >= 2 {
        let opcode = bytes[position] & 0x0F
        var length = Int(bytes[position + 1] & 0x7F), start = position + 2
        if length == 126, bytes.count - position >= 4 {
            length = Int(bytes[position + 2]) << 8 | Int(bytes[position + 3])
            start += 2
        }
        invariant(bytes[position + 1] & 0x80 == 0 && length != 127, "the server sent a masked or huge frame: \(bytes[position...])")
        guard bytes.count - start >= length else { fatalError("the server sent a truncated frame: \(bytes[position...])") }
        let payload = Array(bytes[start..<(start + length)])
        frames.append(ServerFrame(opcode: opcode, payload: opcode == 0x8 ? Array(payload.prefix(2)) : payload))
        position = start + length
    }
    invariant(position == bytes.count, "the server sent a partial frame header: \(bytes[position...])")
    return frames
}
