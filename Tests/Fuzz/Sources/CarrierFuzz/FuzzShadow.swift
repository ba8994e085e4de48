/// Target `shadow`: what a Shadow peer sends after the handshake, into `SealedFrameDecoder` on an
/// `EmbeddedChannel` (via `@testable import CarrierShadow`), and the control messages and source
/// ranges inside.
///
/// Input `[mode] rest`. Mode bit 0 clear: `rest` is plaintexts, each `[length: 2 bytes] bytes`,
/// sealed under a fixed key in order (so the decoder is reached behind valid tags), then fed in
/// two reads cut at `mode >> 1` / 128 of the way. Bit 0 set: `rest` goes in raw, as a stranger's
/// bytes would (lengths, tags). `rest` is also read as one `ControlMessage`, as UTF-8 as
/// comma-separated `SourceRange`s, as an HTTP request head for the shared HTTP port
/// (`HTTPHead`), and as the first bytes on the shared TLS port (`TLSClientHello`).
///
/// Invariants: the decoder either passes frames on or fails with a `FrameError`, never anything
/// else; a frame re-written (`ShadowFrame.write`) reads back equal; a control message re-encodes
/// and decodes equal; a source range printed parses back to itself; a head's end lies within it,
/// and the host taken from a head is lowercase printable ASCII without spaces, at most 253 bytes;
/// a server name taken from a ClientHello is lowercase letters, digits, `-` and `.`, at most 253
/// bytes, and the same with any bytes after its record.
@testable import CarrierShadow
import NIOCore
import NIOEmbedded

private let fixedKey = [UInt8](repeating: 0x5a, count: ShadowCipher.keyByteCount)

func fuzzShadow(_ input: [UInt8]) {
    guard let mode = input.first else { return }
    let rest = Array(input.dropFirst())
    let wire = mode & 1 == 0 ? sealedFrames(rest) : rest
    let cut = wire.count * Int(mode >> 1) / 128
    let channel = EmbeddedChannel(handler: ByteToMessageHandler(SealedFrameDecoder(key: SealingKey(fixedKey, cipher: .chaCha20Poly1305))))
    var failure: (any Error)?
    for part in [wire[..<min(cut, wire.count)], wire[min(cut, wire.count)...]] where !part.isEmpty && failure == nil {
        do { try channel.writeInbound(ByteBuffer(bytes: part)) } catch { failure = error }
        while let frame = try? channel.readInbound(as: ShadowFrame.self) { checkRoundTrip(frame) }
    }
    // Always finished (closed): a channel left open after an error keeps its pipeline alive.
    do { _ = try channel.finish() } catch { failure = failure ?? error }
    while let frame = try? channel.readInbound(as: ShadowFrame.self) { checkRoundTrip(frame) }
    if let failure, !(failure is FrameError) { fatalError("the decoder failed with \(type(of: failure)): \(failure)") }

    if let message = try? ControlMessage(decoding: rest) { checkRoundTrip(message) }
    let view = ByteBuffer(bytes: rest).readableBytesView
    if let end = HTTPHead.end(of: view) {
        invariant(end >= 4 && end <= rest.count, "a head's end \(end) outside its \(rest.count) bytes")
        if let host = HTTPHead.host(in: Array(rest.prefix(end))) {
            invariant(!host.isEmpty && host.utf8.count <= 253 && host.utf8.allSatisfy { (0x21...0x7e).contains($0) && !(0x41...0x5a).contains($0) },
                      "host \(host) is not lowercase printable ASCII")
        }
    }
    let hello = TLSClientHello.parse(rest)
    if case .serverName(let name) = hello {
        invariant(!name.isEmpty && name.utf8.count <= 253 && name.utf8.allSatisfy { (0x61...0x7a).contains($0) || (0x30...0x39).contains($0) || $0 == 0x2d || $0 == 0x2e },
                  "server name \(name) is not a lowercase host name")
    }
    if hello != .needMore { invariant(TLSClientHello.parse(rest + [22, 3, 3]) == hello, "bytes after the first record changed its reading") }
    if let ranges = try? [SourceRange](parsing: String(decoding: rest, as: UTF8.self)) {
        for range in ranges {
            invariant((try? SourceRange(range.description)) == range, "source range \(range) does not parse back from its text")
        }
    }
}

/// `bytes` as `[length: 2] plaintext` pieces, each sealed in order under the fixed key.
private func sealedFrames(_ bytes: [UInt8]) -> [UInt8] {
    let key = SealingKey(fixedKey, cipher: .chaCha20Poly1305)
    var wire: [UInt8] = [], index = 0
    while index + 2 <= bytes.count {
        let length = min(Int(bytes[index]) << 8 | Int(bytes[index + 1]), bytes.count - index - 2)
        let plaintext = Array(bytes[(index + 2)..<(index + 2 + length)])
        index += 2 + length
        let sealedLength = UInt32(length + ShadowCipher.tagByteCount)
        let header = [UInt8(sealedLength >> 24), UInt8(truncatingIfNeeded: sealedLength >> 16), UInt8(truncatingIfNeeded: sealedLength >> 8),
                      UInt8(truncatingIfNeeded: sealedLength)]
        var sealed = [UInt8](repeating: 0, count: Int(sealedLength))
        plaintext.withUnsafeBytes { input in
            sealed.withUnsafeMutableBytes { output in try! key.seal(input, additional: header, into: output) }
        }
        wire += header + sealed
    }
    return wire
}

private func checkRoundTrip(_ frame: ShadowFrame) {
    var buffer = ByteBuffer()
    frame.write(into: &buffer)
    do {
        let again = try ShadowFrame.read(buffer)
        invariant(again == frame, "frame \(frame) reads back as \(again)")
    } catch { fatalError("frame \(frame), written again, is refused: \(error)") }
    if case .control(let message) = frame { checkRoundTrip(message) }
}

private func checkRoundTrip(_ message: ControlMessage) {
    do {
        let again = try ControlMessage(decoding: message.encoded)
        invariant(again == message, "control message \(message) reads back as \(again)")
    } catch { fatalError("control message \(message), encoded again, is refused: \(error)") }
}
