import CarrierHTTP
import Foundation
import Synchronization
import Testing
import TestSupport

/// Frames RFC 6455 says must fail the connection (section 5.1-5.5) are refused with close code
/// 1002 and counted; a message in more than 64 frames is refused with 1009 and counted; a
/// well-formed message still reaches the session.
@Suite(.serialized)
struct WebSocketProtocolTests {
    private final class Received: WebSocketSession {
        let texts = Mutex<[String]>([])
        func received(_ text: String) { texts.withLock { $0.append(text) } }
        func closed() {}
    }

    /// A frame as a client would send it; `masked` false, `rsv` or `opcode` make it break the rules.
    private static func frame(opcode: UInt8, payload: [UInt8], masked: Bool = true, rsv: UInt8 = 0, fin: Bool = true) -> [UInt8] {
        var bytes: [UInt8] = [(fin ? 0x80 : 0) | rsv << 4 | opcode, (masked ? 0x80 : 0) | UInt8(payload.count)]
        let key: [UInt8] = [0x12, 0x34, 0x56, 0x78]
        if masked { bytes += key }
        bytes += payload.enumerated().map { masked ? $0.element ^ key[$0.offset % 4] : $0.element }
        return bytes
    }

    private static func open() throws -> (TestServer, RawTCPClient, Received) {
        let session = Received()
        let server = try TestServer(webSocket: WebSocketEndpoint(path: "/ws", maxMessage: 65_536) { _ in session })
        let client = try server.connect()
        try client.send("GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        return (server, client, session)
    }

    private static func upgradeAnswer(_ client: RawTCPClient) async throws -> String {
        let (bytes, _) = try await client.read(timeout: 5) { $0.suffix(4).elementsEqual(Array("\r\n\r\n".utf8)) }
        return String(decoding: bytes, as: UTF8.self)
    }

    @Test(arguments: [
        ("unmasked", frame(opcode: 0x1, payload: Array("{}".utf8), masked: false)),
        ("rsv1", frame(opcode: 0x1, payload: Array("{}".utf8), rsv: 0b100)),
        ("rsv3", frame(opcode: 0x1, payload: Array("{}".utf8), rsv: 0b001)),
        ("reserved data opcode 3", frame(opcode: 0x3, payload: [])),
        ("reserved control opcode 11", frame(opcode: 0xB, payload: [])),
        ("close with 1 byte", frame(opcode: 0x8, payload: [0x03])),
    ])
    func aFrameThatMustFailTheConnectionIsClosedWith1002(name: String, frame: [UInt8]) async throws {
        let (server, client, session) = try Self.open()
        #expect(try await Self.upgradeAnswer(client).hasPrefix("HTTP/1.1 101"))
        try client.send(frame)
        let (bytes, ended) = try await client.drain(timeout: 5)
        // A close frame (0x88) whose code is 1002 (0x03EA), then the end of the connection.
        #expect(bytes.count >= 4 && bytes[0] == 0x88 && bytes[2] == 0x03 && bytes[3] == 0xEA, "\(name): \(bytes)")
        #expect(ended, "\(name)")
        #expect(server.count(.webSocketProtocol) == 1, "\(name)")
        #expect(session.texts.withLock { $0.isEmpty })
    }

    @Test func aMaskedTextMessageReachesTheSession() async throws {
        let (server, client, session) = try Self.open()
        #expect(try await Self.upgradeAnswer(client).hasPrefix("HTTP/1.1 101"))
        try client.send(Self.frame(opcode: 0x1, payload: Array(#"{"req":1"#.utf8), fin: false) + Self.frame(opcode: 0x0, payload: Array("}".utf8)))
        #expect(await eventually { session.texts.withLock { $0 } == [#"{"req":1}"#] })
        #expect(server.count(.webSocketProtocol) == 0)
    }

    /// The code of the close frame the server sent, once the connection has ended.
    private static func closeCode(_ client: RawTCPClient) async throws -> UInt16? {
        let (bytes, ended) = try await client.drain(timeout: 5)
        guard ended, bytes.count >= 4, bytes[0] == 0x88 else { return nil }
        return UInt16(bytes[2]) << 8 | UInt16(bytes[3])
    }

    @Test func sixtyFourKibibytesInOneByteFramesAreRefusedWith1009() async throws {
        let (server, client, session) = try Self.open()
        #expect(try await Self.upgradeAnswer(client).hasPrefix("HTTP/1.1 101"))
        // The start of 64 KiB sent a byte a frame: the 64th frame is one too many for a message
        // that is not finished.
        try client.send(Self.frame(opcode: 0x1, payload: [0x20], fin: false)
                        + (1..<100).flatMap { _ in Self.frame(opcode: 0x0, payload: [0x20], fin: false) })
        #expect(try await Self.closeCode(client) == 1009)
        #expect(server.count(.webSocketMessageLimits) == 1)
        #expect(server.count(.webSocketProtocol) == 0)
        #expect(session.texts.withLock { $0.isEmpty })
    }

    @Test func aMessageInSixtyFourFramesIsAcceptedAndInSixtyFiveRefused() async throws {
        for (frames, accepted) in [(64, true), (65, false)] {
            let (server, client, session) = try Self.open()
            #expect(try await Self.upgradeAnswer(client).hasPrefix("HTTP/1.1 101"))
            let message = Self.frame(opcode: 0x1, payload: Array("a".utf8), fin: false)
                + (2..<frames).flatMap { _ in Self.frame(opcode: 0x0, payload: Array("a".utf8), fin: false) }
                + Self.frame(opcode: 0x0, payload: Array("a".utf8))
            try client.send(message)
            if accepted {
                #expect(await eventually { session.texts.withLock { $0 } == [String(repeating: "a", count: frames)] })
            } else {
                #expect(try await Self.closeCode(client) == 1009)
                #expect(session.texts.withLock { $0.isEmpty })
            }
            #expect(server.count(.webSocketMessageLimits) == (accepted ? 0 : 1), "\(frames) frames")
        }
    }

    @Test func aFragmentOutOfPlaceIsRefusedWith1002() async throws {
        for (name, frames) in [("a continuation first", Self.frame(opcode: 0x0, payload: [0x20])),
                               ("a text frame inside a message", Self.frame(opcode: 0x1, payload: [0x20], fin: false) + Self.frame(opcode: 0x1, payload: [0x20]))] {
            let (server, client, _) = try Self.open()
            #expect(try await Self.upgradeAnswer(client).hasPrefix("HTTP/1.1 101"))
            try client.send(frames)
            #expect(try await Self.closeCode(client) == 1002, "\(name)")
            #expect(server.count(.webSocketProtocol) == 1, "\(name)")
        }
    }
}
