import CarrierHTTP
import Foundation
import Testing
import TestSupport

/// What a live server answers to requests past its limits: at once, with the connection closed,
/// and counted; and that it keeps serving others.
@Suite(.serialized)
struct RequestLimitsTests {
    @Test func theCrashRequestsAreAnswered() async throws {
        let server = try TestServer()
        for target in ["/v1/node?=", "/unknown?a=1&=", "/x?==&&="] {
            #expect(try await server.get(target).hasPrefix("HTTP/1.1 200"), "\(target)")
        }
        let refused = try await server.get("/x%zz")
        #expect(refused.hasPrefix("HTTP/1.1 400") && refused.contains("two hex digits"), "\(refused)")
        #expect(server.count(.badTarget) == 1)
        #expect(try await server.get("/v1/node").hasPrefix("HTTP/1.1 200"))
    }

    @Test func aLongContentLengthIsRefusedBeforeTheBodyIsSent() async throws {
        let server = try TestServer()
        let client = try server.connect()
        try client.send("POST /v1/values HTTP/1.1\r\nHost: x\r\nContent-Length: 35000000000\r\n\r\n")
        let (answer, ended) = try await client.drainText(timeout: 5)
        #expect(answer.hasPrefix("HTTP/1.1 413") && ended, "\(answer)")
        #expect(server.count(.bodyTooLarge) == 1 && server.answeredCount == 0)
    }

    @Test func aChunkedBodyIsCutOffAtTheLimit() async throws {
        let server = try TestServer()
        let client = try server.connect()
        try client.send("POST /v1/values HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        let chunk = Array("4000\r\n".utf8) + [UInt8](repeating: 0x61, count: 0x4000) + Array("\r\n".utf8)
        // 64 MiB offered; the server must stop reading after 64 KiB.
        var sent = 0
        for _ in 0..<4096 {
            do { try client.send(chunk) } catch { break }
            sent += chunk.count
        }
        let (answer, ended) = try await client.drainText(timeout: 5)
        #expect(answer.hasPrefix("HTTP/1.1 413") && ended, "\(answer.prefix(200))")
        #expect(sent < 8 << 20, "the server read \(sent) bytes of a refused body")
        #expect(server.count(.bodyTooLarge) == 1 && server.answeredCount == 0)
    }

    @Test func connectionsAreBoundedPerSourceAndInAll() async throws {
        var limits = TestServer.shortLimits
        limits.connectionsPerSource = 3
        let perSource = try TestServer(limits: limits)
        let held = try (0..<3).map { _ in try perSource.connect() }
        let refused = try perSource.connect()
        #expect(try await refused.drain(timeout: 3).ended)
        #expect(perSource.count(.connectionsPerSource) == 1)
        withExtendedLifetime(held) {}

        limits.connectionsPerSource = 100
        limits.maxConnections = 2
        let total = try TestServer(limits: limits)
        let open = try (0..<2).map { _ in try total.connect() }
        #expect(try await total.connect().drain(timeout: 3).ended)
        #expect(total.count(.connectionsTotal) == 1)
        for client in open { client.close() }
        try await Task.sleep(for: .milliseconds(200))
        #expect(try await total.get("/again").hasPrefix("HTTP/1.1 200"))
    }
}
