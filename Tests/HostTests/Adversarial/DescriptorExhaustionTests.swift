@testable import CarrierHost
import Foundation
import TestSupport
import Testing

extension AdversarialTests {
    /// A runner held at 1,024 descriptors (soft and hard, as a distribution's default can be), and
    /// 1,100 idle connections from 5 addresses, each under its 256 (issue #12: they locked out every
    /// client and a core spun at 100 %). The server caps its connections below the limit (1,024 less
    /// 128), refuses the rest as they arrive (counted), does not spin, and serves clients again once
    /// the idle connections go (`idleSeconds`, 10 here).
    @Suite(.serialized)
    struct DescriptorExhaustionTests {
        @Test func connectionsBeyondTheDescriptorLimitAreRefusedWithoutSpinning() async throws {
            let wrapper = NSTemporaryDirectory() + "carrier-1024-\(UUID().uuidString).sh"
            try "#!/bin/sh\nulimit -n 1024\nexec \"\(CarrierBinary.path)\" \"$@\"\n".write(toFile: wrapper, atomically: true, encoding: .utf8)
            chmod(wrapper, 0o755)
            let proxy = try await AttackedProxy.start(config: "anonymous = true\nanonymousRate = 1000000\naddressRate = 1000000\nidleSeconds = 10\n",
                                                      runner: wrapper)
            #expect(try await proxy.status("/v1/node") == 200)
            var attackers: [RawTCPClient] = []
            for source in (2...6).map({ "127.0.0.\($0)" }) {
                for _ in 0..<220 { attackers.append(try RawTCPClient(port: proxy.port, source: source)) }
            }
            #expect(await eventually(within: .seconds(5)) { proxy.counter("http_refused_connections_total") >= 1100 - 896 },
                    "\(proxy.counter("http_refused_connections_total")) connections refused of 1,100 (the cap is 896)")
            let cpuBefore = try await proxy.runnerCPUSeconds
            try await Task.sleep(for: .seconds(2))
            let cpu = try await proxy.runnerCPUSeconds - cpuBefore
            #expect(cpu < 0.5, "the runner used \(cpu) s of CPU in 2 s with its connections full")
            // Once the idle ones are closed, a new client is served.
            #expect(await eventually(within: .seconds(15)) { (try? await proxy.status("/v1/node", timeout: 2)) == 200 })
            #expect(await proxy.runner?.losses == 0)
            withExtendedLifetime(attackers) {}
            await proxy.stop()
        }
    }
}
