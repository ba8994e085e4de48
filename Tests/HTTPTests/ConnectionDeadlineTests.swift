import CarrierHTTP
import Foundation
import Testing
import TestSupport

extension AdversarialTests {
    /// Slowloris and idle connections: a head that trickles in, a body below the rate floor and a
    /// connection that says nothing are closed on their deadlines (test limits: 2 s), and counted.
    @Suite(.serialized)
    struct ConnectionDeadlineTests {
        @Test func aHeadSentAByteAtATimeIsCutOffAtTheHeaderTimeout() async throws {
            let server = try TestServer()
            let client = try server.connect()
            let head = Array("GET /v1/node HTTP/1.1\r\nHost: x\r\nX-Slow: ".utf8) + [UInt8](repeating: 0x61, count: 100)
            let start = ContinuousClock.now
            var closed = false
            for byte in head {
                guard (try? client.send([byte])) != nil else { closed = true; break }
                try await Task.sleep(for: .milliseconds(250))
                if ContinuousClock.now - start > .seconds(8) { break }
            }
            let (answer, ended) = try await client.drainText(timeout: 3)
            #expect(closed || ended)
            #expect(answer.hasPrefix("HTTP/1.1 408"), "\(answer)")
            #expect(ContinuousClock.now - start < .seconds(7))
            #expect(server.count(.headerTimeout) == 1 && server.answeredCount == 0)
        }

        @Test func aSilentConnectionIsClosedAtTheIdleTimeout() async throws {
            let server = try TestServer()
            let silent = try server.connect()
            // A kept-alive connection after one answer, too.
            let kept = try server.connect()
            try kept.send("GET /one HTTP/1.1\r\nHost: x\r\n\r\n")
            let start = ContinuousClock.now
            #expect(try await silent.drain(timeout: 6).ended)
            let (answer, ended) = try await kept.drainText(timeout: 6)
            #expect(answer.hasPrefix("HTTP/1.1 200") && ended)
            #expect(ContinuousClock.now - start < .seconds(5))
            #expect(server.count(.idleTimeout) == 2)
        }

        @Test func aBodyBelowTheRateFloorIsCutOff() async throws {
            let server = try TestServer()
            let client = try server.connect()
            try client.send("POST /v1/values HTTP/1.1\r\nHost: x\r\nContent-Length: 60000\r\n\r\n")
            let start = ContinuousClock.now
            for _ in 0..<40 {
                guard (try? client.send([UInt8](repeating: 0x61, count: 10))) != nil else { break }
                try await Task.sleep(for: .milliseconds(200))
                if server.count(.slowBody) == 1 { break }
            }
            let (answer, _) = try await client.drainText(timeout: 3)
            #expect(answer.hasPrefix("HTTP/1.1 408"), "\(answer)")
            #expect(ContinuousClock.now - start < .seconds(7))
            #expect(server.count(.slowBody) == 1 && server.answeredCount == 0)
        }
    }
}
