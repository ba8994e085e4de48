@testable import CarrierHost
import Foundation
import TestSupport
import Testing

extension AdversarialTests {
    /// One connection pipelines up to 1,000,000 `GET /v1/node` and never reads (issue #12: the runner
    /// grew from 38 MB to over 2 GB and kept it). The runner stops reading it, closes it after
    /// `writeStallSeconds` (3 here), grows by less than 64 MiB meanwhile, and is back within 32 MiB
    /// of where it started once the client is gone; another client is served throughout.
    @Suite(.serialized)
    struct PipeliningAttackTests {
        @Test func aPipeliningClientThatNeverReadsCannotGrowTheRunner() async throws {
            let proxy = try await AttackedProxy.start(config: "anonymous = true\nanonymousRate = 1000000\naddressRate = 1000000\nwriteStallSeconds = 3\n")
            #expect(try await proxy.status("/v1/node") == 200)
            let before = try await proxy.residentMiB
            let attacker = try RawTCPClient(port: proxy.port, receiveBuffer: 4096)
            let batch = Array([[UInt8]](repeating: Array("GET /v1/node HTTP/1.1\r\nHost: x\r\n\r\n".utf8), count: 1000).joined())
            var offered = 0, remainder: [UInt8] = [], peak = before, servedMeanwhile = 0
            let start = ContinuousClock.now
            while offered < 1_000_000, ContinuousClock.now - start < .seconds(30) {
                if remainder.isEmpty { remainder = batch }
                guard let taken = attacker.offer(remainder) else { break }  // closed by the proxy
                if taken == 0 {
                    peak = max(peak, try await proxy.residentMiB)
                    if try await proxy.status("/v1/node", timeout: 2) == 200 { servedMeanwhile += 1 }
                    try await Task.sleep(for: .milliseconds(100))
                    continue
                }
                remainder.removeFirst(taken)
                if remainder.isEmpty { offered += 1000 }
            }
            attacker.close()
            #expect(await eventually(within: .seconds(10)) { proxy.counter("http_refused_write_stall") == 1 })
            try await Task.sleep(for: .seconds(2))
            let after = try await proxy.residentMiB
            #expect(offered >= 100_000, "only \(offered) requests offered")
            #expect(peak - before < 64, "the runner grew from \(before) to \(peak) MiB")
            #expect(after - before < 32, "the runner kept \(after - before) MiB after the attack (\(before) → \(after))")
            #expect(servedMeanwhile > 0)
            #expect(try await proxy.status("/v1/node") == 200)
            #expect(await proxy.runner?.losses == 0)
            await proxy.stop()
        }
    }
}
