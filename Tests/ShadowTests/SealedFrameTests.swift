import CarrierCore
@testable import CarrierShadow
import NIOCore
import NIOEmbedded
import Testing

/// Sealed frames on a real pipeline (an `EmbeddedChannel` per side): what one side writes the
/// other reads, and any altered, replayed, oversized or truncated frame ends the connection.
struct SealedFrameTests {
    /// A sender and a receiver channel under the two halves of one handshake's keys.
    private static func pair() throws -> (sender: EmbeddedChannel, receiver: EmbeddedChannel) {
        let client = KeyPair.random(), server = KeyPair.random()
        let start = ClientHandshake(identity: client, server: server.publicKey)
        let answer = try ServerHandshake(hello: start.hello, server: server.publicKey) { server.sign($0) }
        let (proof, clientKeys) = try start.finish(reply: answer.reply)
        let serverKeys = try answer.finish(proof: proof)
        let sender = EmbeddedChannel(handler: SealedFrameEncoder(key: clientKeys.sending))
        let receiver = EmbeddedChannel(handler: ByteToMessageHandler(SealedFrameDecoder(key: serverKeys.receiving)))
        return (sender, receiver)
    }

    private static func wire(_ sender: EmbeddedChannel, _ frames: [ShadowFrame]) throws -> [ByteBuffer] {
        for frame in frames { try sender.writeOutbound(frame) }
        var out: [ByteBuffer] = []
        while let buffer = try sender.readOutbound(as: ByteBuffer.self) { out.append(buffer) }
        return out
    }

    private static func read(_ receiver: EmbeddedChannel) throws -> [ShadowFrame] {
        var frames: [ShadowFrame] = []
        while let frame = try receiver.readInbound(as: ShadowFrame.self) { frames.append(frame) }
        return frames
    }

    @Test func framesArriveAsSentAndLargeDataIsSplit() throws {
        let (sender, receiver) = try Self.pair()
        let big = ByteBuffer(bytes: (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        let marker = "a secret sentence from the node"
        let frames: [ShadowFrame] = [.control(.attach(stream: 7)), .data(ByteBuffer(string: marker)), .data(big), .end,
                                     .datagram(source: 9, payload: ByteBuffer(string: "dns"))]
        let sealed = try Self.wire(sender, frames)
        #expect(sealed.count == 8, "200,000 bytes take 4 frames of at most 65,515")
        // A sealed frame fits a 64 KiB buffer: a larger one would be rounded up to 128 KiB, where
        // glibc maps fresh zeroed pages for every frame (SealedFrameEncoder.dataPerFrame).
        #expect(sealed.allSatisfy { $0.readableBytes <= 65_536 && $0.capacity <= 65_536 }, "\(sealed.map(\.capacity))")
        #expect(!sealed.contains { $0.readableBytesView.firstRange(of: Array(marker.utf8)) != nil }, "nothing travels in clear")
        // The first frames byte by byte, the rest in one piece: the decoder waits for whole frames.
        var joined = ByteBuffer()
        for var buffer in sealed { joined.writeBuffer(&buffer) }
        for byte in joined.readBytes(length: 100)! { try receiver.writeInbound(ByteBuffer(bytes: [byte])) }
        try receiver.writeInbound(joined)
        let received = try Self.read(receiver)
        var data = ByteBuffer()
        for case .data(var chunk) in received.dropFirst(2).prefix(4) { data.writeBuffer(&chunk) }
        #expect(received.first == .control(.attach(stream: 7)) && received[1] == .data(ByteBuffer(string: marker)))
        #expect(data == big && received.suffix(2) == [.end, .datagram(source: 9, payload: ByteBuffer(string: "dns"))])
    }

    /// Offset 3 makes the length too short for a tag; the others alter the sealed bytes. (A
    /// length made longer only waits for bytes that never come: the idle limits end that.)
    @Test(arguments: [3, 4, 10, 40, 50])
    func anAlteredByteEndsTheConnection(offset: Int) throws {
        let (sender, receiver) = try Self.pair()
        var frame = try Self.wire(sender, [.data(ByteBuffer(string: String(repeating: "x", count: 30)))])[0]
        let byte = frame.getInteger(at: offset, as: UInt8.self)!
        frame.setInteger(byte ^ 0x20, at: offset)
        #expect(throws: (any Error).self) { try receiver.writeInbound(frame) }
    }

    @Test func aReplayedOrReorderedFrameIsForged() throws {
        let (sender, receiver) = try Self.pair()
        let sealed = try Self.wire(sender, [.data(ByteBuffer(string: "one")), .data(ByteBuffer(string: "two"))])
        #expect(throws: FrameError.forged) { try receiver.writeInbound(sealed[1]) }
        let (sender2, receiver2) = try Self.pair()
        let again = try Self.wire(sender2, [.data(ByteBuffer(string: "one"))])
        try receiver2.writeInbound(again[0])
        #expect(throws: FrameError.forged) { try receiver2.writeInbound(again[0]) }
    }

    @Test func anOversizedLengthIsRefusedBeforeItsBytesArrive() throws {
        let (_, receiver) = try Self.pair()
        var header = ByteBuffer()
        header.writeInteger(UInt32(ShadowFrame.maxSealedLength + 1))
        #expect(throws: FrameError.tooLong(UInt32(ShadowFrame.maxSealedLength + 1))) { try receiver.writeInbound(header) }
    }

    @Test func aConnectionThatEndsInsideAFrameIsAnError() throws {
        let (sender, receiver) = try Self.pair()
        var frame = try Self.wire(sender, [.data(ByteBuffer(string: "cut short"))])[0]
        try receiver.writeInbound(frame.readSlice(length: 10)!)
        #expect(throws: FrameError.malformed("the connection ended inside a frame")) { try receiver.finish() }
    }

    @Test func controlMessagesRoundTripAndAreReadStrictly() throws {
        let messages: [ControlMessage] = [
            .expose([MappingRequest(name: "web", transport: .tcp), MappingRequest(name: "dns-1", transport: .udp)]),
            .expose([MappingRequest(name: "ssh", transport: .tcp, allow: [try SourceRange("203.0.113.0/24"), try SourceRange("2001:db8::/32")],
                                    deny: [try SourceRange("203.0.113.7")])]),
            .exposed([GrantedMapping(MappingRequest(name: "web", transport: .tcp), port: 40000)]),
            .query, .status(load: 0), .status(load: 1000), .spare,
            .exposed([GrantedMapping(MappingRequest(name: "web", transport: .tcp), port: 40000, http: "http://web.aaaa.shadow.test:8080")]),
            .exposed([GrantedMapping(MappingRequest(name: "web", transport: .tcp), port: 40000, http: "http://web.aaaa.shadow.test",
                                     https: "https://web.aaaa.shadow.test:8443")]),
            .refused("no"), .open(stream: 3, mapping: "web", source: "198.18.0.3:5000"), .attach(stream: 3),
            .udp(mapping: "dns-1"), .ping, .pong,
        ]
        for message in messages { #expect(try ControlMessage(decoding: message.encoded) == message) }
        func refusal(_ item: CBOR) -> String? {
            var writer = CBORWriter()
            writer.item(item)
            do { _ = try ControlMessage(decoding: writer.bytes); return nil } catch { return error.description }
        }
        #expect(refusal(.map([.init("op", .text("dance"))])) == #"unknown op "dance""#)
        #expect(refusal(.map([.init("op", .text("ping")), .init("x", .unsigned(1))])) == #"ping has unknown fields ["x"]"#)
        #expect(refusal(.map([.init("op", .text("attach"))])) == "attach needs `stream`")
        #expect(refusal(.map([.init("op", .text("status")), .init("load", .unsigned(1001))])) == "status: `load` must be 0 to 1000 (per mille)")
        #expect(refusal(.map([.init("op", .text("attach")), .init("stream", .text("1"))])) == "attach: `stream` must be an unsigned integer")
        let badName = CBOR.map([.init("name", .text("Web!")), .init("protocol", .text("tcp"))])
        #expect(refusal(.map([.init("op", .text("expose")), .init("mappings", .array([badName]))]))?.contains("[a-z0-9-]") == true)
        #expect(refusal(.array([])) == "a control message must be a map, not a array")
        func expose(_ field: String, _ value: CBOR) -> CBOR {
            .map([.init("op", .text("expose")), .init("mappings", .array([
                .map([.init("name", .text("web")), .init("protocol", .text("tcp")), .init(field, value)])]))])
        }
        #expect(refusal(expose("allow", .array([.text("10.0.0.0/33")])))?.contains("prefix length must be 0 to 32") == true)
        #expect(refusal(expose("deny", .array([.text("example.org")])))?.contains("is not an address range") == true)
        #expect(refusal(expose("allow", .array([])))?.contains("array of 1 to 16 ranges") == true)
        #expect(refusal(expose("allow", .array(Array(repeating: .text("10.0.0.1"), count: 17))))?.contains("array of 1 to 16") == true)
        #expect(refusal(expose("deny", .array([.unsigned(1)])))?.contains("holds text ranges") == true)
        let badURL = CBOR.map([.init("op", .text("exposed")), .init("mappings", .array([.map([
            .init("name", .text("web")), .init("protocol", .text("tcp")), .init("port", .unsigned(1)), .init("http", .text("ftp://x"))])]))])
        #expect(refusal(badURL)?.contains("must be an http:// URL") == true)
        let plainHTTPS = CBOR.map([.init("op", .text("exposed")), .init("mappings", .array([.map([
            .init("name", .text("web")), .init("protocol", .text("tcp")), .init("port", .unsigned(1)), .init("https", .text("http://x"))])]))])
        #expect(refusal(plainHTTPS)?.contains("must be an https:// URL") == true)
    }
}
