import CarrierHTTP
import Foundation
import Testing
import TestSupport

extension AdversarialTests {
    /// A client that pipelines requests and never reads its answers: the server stops reading it
    /// and answering it once its answers are unsent, and closes it at the write-stall deadline
    /// (issue #12: 1,000,000 such requests grew the proxy from 38 MB to over 2 GB).
    @Suite(.serialized)
    struct BackpressureTests {
        @Test func aPipeliningClientThatNeverReadsGetsBoundedAnswersAndIsClosed() async throws {
            let server = try TestServer()
            let answerSize = try await server.get("/v1/node").utf8.count
            let client = try server.connect(receiveBuffer: 4096)
            let request = Array("GET /v1/node HTTP/1.1\r\nHost: x\r\n\r\n".utf8)
            let batch = Array([[UInt8]](repeating: request, count: 1000).joined())
            var offered = 0, closed = false, remainder: [UInt8] = []
            let start = ContinuousClock.now
            // Up to 1,000,000 requests, offered without blocking until the server closes the
            // connection; the kernel's send buffer may grow for a while before it is full for good.
            while offered < 1_000_000, server.count(.writeStall) == 0, ContinuousClock.now - start < .seconds(60) {
                if remainder.isEmpty { remainder = batch }
                guard let taken = client.offer(remainder) else { closed = true; break }
                if taken == 0 {
                    try await Task.sleep(for: .milliseconds(50))
                    continue
                }
                remainder.removeFirst(taken)
                if remainder.isEmpty { offered += 1000 }
            }
            let answered = server.answeredCount
            #expect(await eventually(within: .seconds(10)) { server.count(.writeStall) == 1 },
                    "offered \(offered), answered \(answered), closed \(closed) \(server.server.counters.snapshot.filter { $0.value > 0 })")
            #expect(try await client.drain(timeout: 5).ended || closed)
            // What was answered fits in the kernel's buffers (the server's send buffer at its largest,
            // the client's receive buffer) and NIO's 64 KiB high-water mark: nothing was queued beyond.
            let kernel = try String(contentsOfFile: "/proc/sys/net/ipv4/tcp_wmem", encoding: .utf8).split(whereSeparator: \.isWhitespace)
            let sendBufferMax = Int(kernel.last ?? "") ?? 4 << 20
            let bound = (sendBufferMax + (64 << 10) + (64 << 10)) / answerSize + 1000
            #expect(answered < bound, "answered \(answered) of \(offered) requests offered; bound \(bound)")
            #expect(try await server.get("/still").hasPrefix("HTTP/1.1 200"))
        }

        @Test func aClientThatReadsSlowlyIsServedInFull() async throws {
            let server = try TestServer()
            let client = try server.connect(receiveBuffer: 4096)
            let request = "GET /v1/node HTTP/1.1\r\nHost: x\r\n\r\n"
            try client.send(String(repeating: request, count: 2000))
            let answers = try await client.read(timeout: 10) { bytes in
                String(decoding: bytes, as: UTF8.self).components(separatedBy: "HTTP/1.1 200").count - 1 >= 2000
            }
            #expect(String(decoding: answers.bytes, as: UTF8.self).components(separatedBy: "HTTP/1.1 200").count - 1 == 2000)
            #expect(server.count(.writeStall) == 0)
        }
    }
}
