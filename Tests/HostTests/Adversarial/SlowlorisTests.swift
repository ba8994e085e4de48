@testable import CarrierHost
import Foundation
import TestSupport
import Testing

extension AdversarialTests {
    /// Slowloris: 2,000 connections from 8 loopback addresses (250 each, under the 256 per source),
    /// each sending a header byte every second, against a runner with `headerSeconds = 3`. Every one
    /// is closed within 3 s of the deadline, counted on `/metrics`, and a client is served throughout.
    @Suite(.serialized)
    struct SlowlorisTests {
        @Test func twoThousandTricklingConnectionsAreClosedAtTheHeaderDeadline() async throws {
            let proxy = try await AttackedProxy.start(config: "anonymous = true\nanonymousRate = 1000000\naddressRate = 1000000\nheaderSeconds = 3\n")
            let sources = (2...9).map { "127.0.0.\($0)" }
            var attackers: [RawTCPClient] = []
            for source in sources {
                for _ in 0..<250 {
                    let attacker = try RawTCPClient(port: proxy.port, source: source)
                    try attacker.send("GET /v1/node HTTP/1.1\r\nX: ")
                    attackers.append(attacker)
                }
            }
            let start = ContinuousClock.now
            var served = 0, asked = 0, open = attackers.count
            while open > 0, ContinuousClock.now - start < .seconds(12) {
                open = 0
                for attacker in attackers where attacker.offer([0x61]) != nil {
                    open += 1
                }
                asked += 1
                if try await proxy.status("/v1/node", timeout: 3) == 200 { served += 1 }
                try await Task.sleep(for: .seconds(1))
            }
            let elapsed = ContinuousClock.now - start
            #expect(open == 0, "\(open) trickling connections still open after \(elapsed)")
            #expect(elapsed < .seconds(7), "closed after \(elapsed)")
            #expect(served == asked, "a client was served \(served) times of \(asked)")
            #expect(await eventually(within: .seconds(5)) { proxy.counter("http_refused_header_timeout") >= 2000 },
                    "\(proxy.counter("http_refused_header_timeout")) header timeouts counted")
            await proxy.stop()
        }
    }
}
