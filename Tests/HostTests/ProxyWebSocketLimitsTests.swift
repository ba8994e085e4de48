import CarrierCore
import CarrierDHT
@testable import CarrierHost
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import TestSupport
import Testing

/// The WebSocket API's protections for the proxy and its other clients: a connection has at most
/// 64 requests in flight, and a subscriber that stops reading is dropped while the others keep
/// getting every version.
@Suite(.serialized)
struct ProxyWebSocketLimitsTests {
    /// A supernode with the proxy in process, and the port of its WebSocket.
    private static func start() async throws -> (HostNetwork, PluginHost, Int) {
        let network = try await HostNetwork.start()
        let host = PluginHost(environment: network.environment, runnerSettings: RunnerSettings(executable: CarrierBinary.path))
        await host.apply([try HostNetwork.manifest(library: try CPlugins.proxy(), id: "org.carrier.proxy", config: HostNetwork.openProxy)])
        let endpoint = try #require(network.environment.services.announced.first { $0.type == "proxy" }?.endpoint)
        return (network, host, try #require(Int(endpoint.split(separator: ":").last ?? "")))
    }

    @Test func aConnectionHasAtMost64RequestsInFlight() async throws {
        let (network, host, port) = try await Self.start()
        // With its one contact gone, each lookup waits for a timeout (at least 200 ms), and the
        // 80 requests arrive in one write, so they are all in flight at once.
        await network.client.stop()
        let socket = try RawWebSocket(port: port, receiveBuffer: 1 << 20)
        try socket.send((1...80).map { #"{"req":\#($0),"op":"getValue","id":"\#(Id.random().base58)"}"# })
        let answers = try await socket.read(timeout: 30) { $0.count >= 80 }.compactMap { text in Self.requestNumber(text).map { ($0, text) } }
        #expect(answers.count == 80)
        // The first 64 are always admitted; later ones are refused while those are in flight
        // (all 16 unless a stalled machine let a lookup time out before the last arrived).
        let refused = answers.filter { $0.1.contains("over 64 requests in flight") }
        #expect(!refused.isEmpty && refused.allSatisfy { $0.0 > 64 }, "\(refused.map(\.0))")
        #expect(refused.allSatisfy { $0.1.contains(#""error":{"code":201,"#) })
        // Once answered, requests are admitted again.
        try socket.send([#"{"req":81,"op":"node"}"#])
        #expect(try await socket.read(timeout: 10) { !$0.isEmpty }.first?.hasPrefix(#"{"req":81,"result":"#) == true)
        socket.close()
        await host.stopAll()
        await network.host.stop()
    }

    @Test func aSubscriberThatStopsReadingIsDroppedAndTheOthersKeepUp() async throws {
        let (network, host, port) = try await Self.start()
        let light = KeyPair.random()
        let id = light.publicKey.base58
        // The slow client subscribes 256 times to one value (the most a connection may), so
        // each version is about 330 KB of events for it; then it reads nothing. It asks in
        // batches of at most 64, the most it may have in flight, and asks again for those
        // refused while earlier ones were still in flight.
        let slow = try RawWebSocket(port: port, receiveBuffer: 4096)
        var unanswered = Array(1...256)
        for _ in 0..<100 where !unanswered.isEmpty {
            let batch = Array(unanswered.prefix(64))
            try slow.send(batch.map { #"{"req":\#($0),"op":"subscribe","value":"\#(id)"}"# })
            let answers = try await slow.read(timeout: 10) { $0.count >= batch.count }
            let subscribed = Set(answers.filter { $0.contains(#""result":{"subscription":"#) }.compactMap(Self.requestNumber))
            unanswered.removeAll { subscribed.contains($0) }
            if !unanswered.isEmpty { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(unanswered.isEmpty, "\(unanswered.count) subscriptions refused")
        let fast = try await TestWebSocket.connect(host: "127.0.0.1", port: port)
        try await fast.send(#"{"req":1,"op":"subscribe","value":"\#(id)"}"#)
        #expect(await fast.message(containing: #""req":1,"result":{"subscription":1}"#) != nil)

        // 60 versions: about 20 MB of events for the slow client, far more than the kernel and
        // the proxy buffer for a connection that reads nothing (a few MB at most).
        let versions = 60
        let padding = String(repeating: "p", count: 800)
        for sequence in 1...versions {
            let value = Value.signed(by: light, sequenceNumber: Int32(sequence), data: Array("\(sequence) \(padding)".utf8))
            try await fast.send(#"{"req":\#(sequence + 1),"op":"putValue","value":\#(value.json)}"#)
            #expect(await fast.message(containing: #""req":\#(sequence + 1),"result":"#) != nil, "put \(sequence)")
            // The reading subscriber gets every version.
            #expect(await fast.message(containing: #""event":"value","subscription":1,"value":\#(value.json)"#) != nil, "version \(sequence)")
        }

        // The slow client now reads: what was buffered, then the end of the connection, long
        // before all the events.
        let (text, ended) = try await slow.drain(timeout: 10)
        let events = text.components(separatedBy: #""event":"value""#).count - 1
        #expect(ended, "the proxy did not close the connection (\(events) events, \(text.utf8.count) bytes read)")
        #expect(events < versions * 256, "\(events) of \(versions * 256) events reached the client that did not read")
        slow.close()
        await fast.close()
        await host.stopAll()
        await network.stop()
    }

    private static func requestNumber(_ message: String) -> Int? {
        guard message.hasPrefix(#"{"req":"#) else { return nil }
        return Int(message.dropFirst(#"{"req":"#.count).prefix { $0.isNumber })
    }
}

/// A WebSocket client on a plain POSIX socket, so a test controls its receive buffer and can stop
/// reading altogether (a NIO client reads whatever arrives). Its blocking reads run on a
/// dispatch thread: blocking one of Swift concurrency's few threads could starve the proxy
/// under test, which answers on them.
private final class RawWebSocket: @unchecked Sendable {
    // @unchecked: the socket is used by one caller at a time.
    private let tcp: RawTCPClient
    private let descriptor: Int32

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// Connects to 127.0.0.1:`port` with a receive buffer of `receiveBuffer` bytes and completes
    /// the upgrade to `/v1/ws`.
    init(port: Int, receiveBuffer: Int32) throws {
        tcp = try RawTCPClient(port: port, receiveBuffer: receiveBuffer)
        descriptor = tcp.descriptor
        try tcp.send(Array(("GET /v1/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n").utf8))
        var head: [UInt8] = []
        while !head.suffix(4).elementsEqual(Array("\r\n\r\n".utf8)) {
            var byte: UInt8 = 0
            guard recv(descriptor, &byte, 1, 0) == 1 else { throw Failure(description: "the upgrade was not answered") }
            head.append(byte)
        }
        guard String(decoding: head, as: UTF8.self).hasPrefix("HTTP/1.1 101") else {
            throw Failure(description: "no upgrade: \(String(decoding: head, as: UTF8.self))")
        }
    }

    /// Sends one masked text frame (a client's frames are masked).
    func send(_ text: String) throws {
        try send([text])
    }

    /// Sends one masked text frame per message, all in one write.
    func send(_ texts: [String]) throws {
        var bytes: [UInt8] = []
        for text in texts {
            let payload = Array(text.utf8)
            bytes.append(0x81)
            if payload.count < 126 {
                bytes.append(0x80 | UInt8(payload.count))
            } else {
                bytes += [0x80 | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
            }
            let mask: [UInt8] = [0x12, 0x34, 0x56, 0x78]
            bytes += mask
            bytes += payload.enumerated().map { $0.element ^ mask[$0.offset % 4] }
        }
        try tcp.send(bytes)
    }

    /// Reads the server's text frames (unmasked, under 64 KiB) until `enough` says so of those
    /// read, or `timeout` seconds pass without data.
    func read(timeout: Int, until enough: @escaping @Sendable ([String]) -> Bool) async throws -> [String] {
        try await onOwnThread { try self.readBlocking(timeout: timeout, until: enough) }
    }

    private func readBlocking(timeout: Int, until enough: ([String]) -> Bool) throws -> [String] {
        var limit = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        var messages: [String] = []
        while !enough(messages) {
            let header = try readExactly(2)
            var length = Int(header[1] & 0x7F)
            guard length != 127 else { throw Failure(description: "a frame over 64 KiB") }
            if length == 126 {
                let extended = try readExactly(2)
                length = Int(extended[0]) << 8 | Int(extended[1])
            }
            messages.append(String(decoding: try readExactly(length), as: UTF8.self))
        }
        return messages
    }

    private func readExactly(_ count: Int) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var filled = 0
        while filled < count {
            let received = bytes[filled...].withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            guard received > 0 else { throw Failure(description: "the connection ended or timed out after \(filled) of \(count) bytes") }
            filled += received
        }
        return bytes
    }

    /// Reads until the server ends the connection or nothing arrives for `timeout` seconds; the
    /// bytes as text (frame headers included) and whether the connection ended.
    func drain(timeout: Int) async throws -> (text: String, ended: Bool) {
        try await tcp.drainText(timeout: Double(timeout))
    }

    func close() { tcp.close() }
}
