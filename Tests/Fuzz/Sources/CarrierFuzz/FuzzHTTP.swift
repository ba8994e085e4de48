/// Target `http`: raw bytes from a client, into one connection of the proxy's HTTP server
/// (`EmbeddedHTTPConnection`: NIO's parser, `ConnectionGuard`, `HTTPRequestHandler`, the WebSocket
/// upgrade), and the request target of the first line into `RequestTarget(parsing:)` directly.
///
/// Input: `[split] [flags] bytes…`. The bytes arrive in two reads, cut at `split`/256 of their
/// length. Flags: 1 = the client stops reading after the first read (the channel unwritable) and
/// reads again at the end; 2 = the client goes away right after the second read, before its
/// answers are worked out; 4 = zero deadlines, with the loop's clock moved on a second after the
/// first read (header, body and idle deadlines fire mid-request); 8 = no WebSocket endpoint.
///
/// Invariants, besides never trapping (in our code or NIO's): every request `respond` sees has a
/// path whose first byte is `/`, path and query free of control characters, a body within `maxBody`, and
/// no HEAD (answered as GET); what the server sends starts with `HTTP/1.1 `; once the connection
/// closes, no answer is left in progress. A target that parses is re-encoded (every byte outside
/// the unreserved set percent-encoded) and must parse back to the same path and query.
import CarrierCore
import CarrierHTTP
import NIOCore
import NIOHTTP1

func fuzzHTTP(_ input: [UInt8]) {
    let split = input.first.map(Int.init) ?? 0, flags = input.count > 1 ? input[1] : 0
    let bytes = input.dropFirst(2)
    checkRequestTarget(firstLineTarget(bytes))

    let limits = flags & 4 != 0 ? HTTPFuzzing.zeroDeadlines : HTTPFuzzing.limits
    let connection = EmbeddedHTTPConnection(limits: limits, webSocket: flags & 8 != 0 ? nil : HTTPFuzzing.webSocket,
                                            respond: HTTPFuzzing.respond)
    let cut = bytes.startIndex + bytes.count * split / 256
    connection.receive(bytes[..<cut])
    if flags & 1 != 0 { connection.setWritable(false) }
    if flags & 4 != 0 { connection.advance(by: .seconds(1)) }
    connection.receive(bytes[cut...], settling: flags & 2 == 0)
    if flags & 2 != 0 { connection.close() }
    if flags & 1 != 0 { connection.setWritable(true) }
    connection.finish()

    let sent = connection.sent
    show("sent", sent)
    invariant(sent.isEmpty || sent.starts(with: Array("HTTP/1.1 ".utf8)),
              "the server's first bytes are not a status line: \(String(decoding: sent.prefix(64), as: UTF8.self).debugDescription)")
}

enum HTTPFuzzing {
    /// The proxy's limits, but a 64-byte body, so that short inputs reach the body limit.
    static let limits: HTTPServerLimits = {
        var limits = HTTPServerLimits()
        limits.maxBody = 64
        return limits
    }()

    /// Every deadline zero: the first check (a second on the loop's clock) finds each one passed.
    static let zeroDeadlines: HTTPServerLimits = {
        var limits = Self.limits
        limits.headerTimeout = .zero
        limits.idleTimeout = .zero
        limits.bodyGrace = .zero
        limits.writeStallTimeout = .zero
        return limits
    }()

    static let webSocket = WebSocketEndpoint(path: "/v1/ws", maxMessage: 64) { _ in IgnoredSession() }

    /// A small JSON answer; `/stream…` is answered with a streamed body (two chunks), `/busy…`
    /// with a 503 and `Retry-After`, as the proxy's routes answer.
    static let respond: @Sendable (HTTPRequest) async -> HTTPAnswer = { request in
        check(request)
        if request.path.hasPrefix("/stream") {
            return .streamed { stream in
                stream.send("{}\n")
                stream.send(#"{"n":1}"#)
            }
        }
        if request.path.hasPrefix("/busy") { return HTTPAnswer(status: .serviceUnavailable, body: #"{"error":{}}"#, retryAfter: 1) }
        return .json(#"{"ok":true}"#)
    }

    private static func check(_ request: HTTPRequest) {
        invariant(request.method != .HEAD, "a HEAD reached respond")
        invariant(request.path.utf8.first == UInt8(ascii: "/"), "path \(request.path.debugDescription) does not start with /")
        invariant(request.body.count <= limits.maxBody, "a \(request.body.count)-byte body passed the \(limits.maxBody)-byte limit")
        for text in [request.path] + request.query.keys + request.query.values {
            invariant(!hasControlCharacter(text), "control character in \(text.debugDescription) of \(request.path.debugDescription)")
        }
    }
}

/// A WebSocket session that drops what it gets (the `websocket` target checks sessions).
private struct IgnoredSession: WebSocketSession {
    func received(_ text: String) {}
    func closed() {}
}

func hasControlCharacter(_ text: String) -> Bool {
    text.utf8.contains { $0 < 0x20 || $0 == 0x7F }
}

/// The second word of the first line (`GET /v1/node?= HTTP/1.1` gives `/v1/node?=`), or the line.
private func firstLineTarget(_ bytes: ArraySlice<UInt8>) -> String {
    let line = bytes.prefix { $0 != UInt8(ascii: "\r") && $0 != UInt8(ascii: "\n") }
    let words = line.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false)
    return String(decoding: words.count > 1 ? words[1] : line, as: UTF8.self)
}

/// `RequestTarget(parsing:)` throws or parses; what it parses is free of control characters and
/// parses back from its own percent-encoding to the same path and query.
func checkRequestTarget(_ text: String) {
    guard let target = try? RequestTarget(parsing: text) else { return }
    invariant(target.path.utf8.first == UInt8(ascii: "/"), "\(text.debugDescription) parsed to path \(target.path.debugDescription)")
    for part in [target.path] + target.query.keys + target.query.values {
        invariant(!hasControlCharacter(part), "\(text.debugDescription) parsed to \(part.debugDescription), with a control character")
    }
    var encoded = percentEncoded(target.path, keeping: UInt8(ascii: "/"))
    if !target.query.isEmpty {
        encoded += "?" + target.query.map { percentEncoded($0.key) + "=" + percentEncoded($0.value) }.joined(separator: "&")
    }
    do {
        let again = try RequestTarget(parsing: encoded)
        invariant(again == target, "\(text.debugDescription) parsed to \(target); its encoding \(encoded.debugDescription) to \(again)")
    } catch {
        fatalError("\(text.debugDescription) parsed to \(target), but its encoding \(encoded.debugDescription) is refused: \(error)")
    }
}

/// `text` with every byte but the URL's unreserved ones (and `kept`) as `%XX`.
private func percentEncoded(_ text: String, keeping kept: UInt8? = nil) -> String {
    var output = ""
    for byte in text.utf8 {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
            output.unicodeScalars.append(Unicode.Scalar(byte))
        case kept:
            output.unicodeScalars.append(Unicode.Scalar(byte))
        default:
            output += "%" + Hex.encode([byte]).uppercased()
        }
    }
    return output
}
