@testable import CarrierHost
import Foundation
import TestSupport
import Testing

extension AdversarialTests {
    /// The request that crashed the proxy (issue #12): a query item made only of `=`, before any
    /// route, auth or limit, so it also reached a proxy closed to anonymous use. Sent every 50 ms for
    /// 2 s, it is answered each time; the runner is never lost, and a client is served throughout.
    @Suite(.serialized)
    struct CrashRequestTests {
        @Test(arguments: PluginHostTests.isolations) func theCrashRequestIsAnsweredAndNothingGoesDown(isolation: PluginManifest.Isolation) async throws {
            let proxy = try await AttackedProxy.start(isolation: isolation)
            let pid = await proxy.runner?.pid
            let token = try await proxy.session()
            var statuses: Set<Int> = [], served = 0, rounds = 0
            let deadline = ContinuousClock.now + .seconds(2)
            while ContinuousClock.now < deadline {
                for target in ["/v1/node?=", "/v1/node?a=1&=", "/nowhere?a=1&=", "/v1/values/x?==&&=", "/v1/node?%zz="] {
                    statuses.insert(try await proxy.status(target))
                }
                // A light node with a session is served meanwhile.
                if try await proxy.status("/v1/node", headers: "Authorization: Bearer \(token)\r\n") == 200 { served += 1 }
                rounds += 1
                try await Task.sleep(for: .milliseconds(50))
            }
            // Closed to anonymous use: 401 without a session (any path), 400 for a malformed escape.
            #expect(statuses == [401, 400], "\(statuses)")
            #expect(served == rounds, "served \(served) of \(rounds)")
            if isolation == .process {
                let runner = await proxy.runner
                #expect(runner?.losses == 0 && runner?.pid == pid, "\(String(describing: runner))")
            }
            #expect(await proxy.host.status.first?.state == .running)
            await proxy.stop()
        }
    }
}
