import CarrierCore
@testable import CarrierHost
import CarrierPluginABI
import TestSupport
import Testing

/// `announce_service` and `withdraw_service` through the host-API table, as the header documents
/// them: `{host}` and `{node_id}` substituted, a second announcement replaces the first, a
/// withdrawal answers NOT_FOUND for a type the instance does not offer, and an endpoint over
/// CARRIER_ENDPOINT_MAX is refused with the reason in the plugin's log.
@Suite(.serialized)
struct ServiceCallsABITests {
    @Test func announcementsAndWithdrawalsDoWhatTheHeaderSays() async throws {
        let fixture = try await ABIFixture.make(id: "abi.services")
        let api = fixture.api, host = fixture.host, registry = fixture.network.environment.services
        #expect(fixture.context.advance(to: .running))

        #expect(api.announce_service(host, "abi-echo", "tcp://{host}:7000/{node_id}") == CARRIER_OK)
        let node = fixture.network.host.id.base58
        #expect(registry.announced.map(\.endpoint) == ["tcp://127.0.0.1:7000/\(node)"])
        #expect(api.announce_service(host, "abi-echo", "tcp://{host}:7001") == CARRIER_OK)
        #expect(registry.announced.map(\.endpoint) == ["tcp://127.0.0.1:7001"], "the second announcement replaces the first")

        let long = "tcp://" + String(repeating: "a", count: Int(CARRIER_ENDPOINT_MAX))
        #expect(api.announce_service(host, "abi-long", long) == CARRIER_ERR_INVALID_ARGUMENT)
        #expect(fixture.logs.lines.withLock { $0 }.contains { $0.contains("service abi-long not announced") && $0.contains("exceed") },
                "\(fixture.logs.lines.withLock { $0 })")

        #expect(api.withdraw_service(host, "abi-echo") == CARRIER_OK)
        #expect(registry.announced.isEmpty)
        #expect(api.withdraw_service(host, "abi-echo") == CARRIER_ERR_NOT_FOUND)
        #expect(api.withdraw_service(host, "never-announced") == CARRIER_ERR_NOT_FOUND)
        fixture.releaseAfterStop()
        #expect(api.announce_service(host, "abi-echo", "tcp://{host}:7000") == CARRIER_ERR_SHUTTING_DOWN)
        await fixture.network.stop()
    }
}
