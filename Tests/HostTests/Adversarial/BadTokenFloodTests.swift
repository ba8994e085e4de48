@testable import CarrierHost
import Foundation
import TestSupport
import Testing

extension AdversarialTests {
    /// Requests with an invalid bearer token count against the address's limit like any other (issue
    /// #12: 5,000 were answered 401 and none 429). With the shipped `addressRate` (200 a second, a
    /// burst of 400), a flood of them from one address is refused with 429 after the burst.
    @Suite(.serialized)
    struct BadTokenFloodTests {
        @Test func aFloodOfBadTokensIsRateLimitedByAddress() async throws {
            let proxy = try await AttackedProxy.start()
            var statuses: [Int: Int] = [:]
            let client = try RawTCPClient(port: proxy.port)
            let request = "GET /v1/node HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer not-a-session\r\n\r\n"
            // 1,000 requests on one kept-alive connection, pipelined in tens.
            for _ in 0..<100 {
                try client.send(String(repeating: request, count: 10))
                let (bytes, _) = try await client.read(timeout: 5) { String(decoding: $0, as: UTF8.self).components(separatedBy: "HTTP/1.1 ").count > 10 }
                for answer in String(decoding: bytes, as: UTF8.self).components(separatedBy: "HTTP/1.1 ").dropFirst() {
                    statuses[Int(answer.prefix(3)) ?? 0, default: 0] += 1
                }
            }
            #expect(statuses[401, default: 0] >= 400 && statuses[401, default: 0] < 600, "\(statuses)")
            #expect(statuses[429, default: 0] >= 400, "\(statuses)")
            #expect(statuses.keys.allSatisfy { $0 == 401 || $0 == 429 }, "\(statuses)")
            await proxy.stop()
        }
    }
}
