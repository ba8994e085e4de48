import CarrierCore
@testable import CarrierHost
import CarrierPluginABI
import Synchronization
import TestSupport
import Testing

/// ABI 1.4's `store` and `store_signed`: the callback hands back the value's id, `cas` = -1 is
/// "any version", and a value over its limit is refused with a message in the plugin's log.
@Suite(.serialized)
struct StoreWithIdABITests {
    /// What a stored callback was told.
    private final class Stored: Sendable {
        let answer = Mutex<(status: carrier_status, id: Id, accepted: UInt32)?>(nil)
    }

    private static let callback: carrier_stored_callback = { userData, status, id, accepted, _ in
        let stored = Unmanaged<Stored>.fromOpaque(userData!).takeRetainedValue()
        stored.answer.withLock { $0 = (status, CRecords.id(id!), accepted) }
    }

    /// Waits for the callback of a store that returned CARRIER_OK.
    private static func outcome(_ stored: Stored) async throws -> (status: carrier_status, id: Id, accepted: UInt32) {
        #expect(await eventually(within: .seconds(10)) { stored.answer.withLock { $0 != nil } })
        return try #require(stored.answer.withLock { $0 })
    }

    @Test func storesHandBackTheValueIdAndOversizedValuesAreExplained() async throws {
        let fixture = try await ABIFixture.make(id: "abi.store-id")
        let api = fixture.api, host = fixture.host
        #expect(fixture.context.advance(to: .running))

        let data = Array("an immutable value".utf8)
        let immutable = Stored()
        let started = CRecords.withCValue(Value.immutable(data)) {
            api.store(host, $0, -1, Self.callback, Unmanaged.passRetained(immutable).toOpaque())
        }
        #expect(started == CARRIER_OK)
        let first = try await Self.outcome(immutable)
        #expect(first.status == CARRIER_OK && first.accepted == 1 && first.id == Id(bytes: Sodium.sha256(data)))

        let signed = Stored()
        #expect(api.store_signed(host, 1, "signed by the node", 18, -1, Self.callback, Unmanaged.passRetained(signed).toOpaque()) == CARRIER_OK)
        let second = try await Self.outcome(signed)
        #expect(second.status == CARRIER_OK && second.id == fixture.network.host.id, "a signed value's id is its owner's key")
        #expect(await fixture.network.client.findValue(fixture.network.host.id)?.data == Array("signed by the node".utf8))

        // Over CARRIER_VALUE_DATA_MAX: refused at once, the log says why; a cas below -1 is refused too.
        let oversized = [UInt8](repeating: 7, count: Int(CARRIER_VALUE_DATA_MAX) + 1)
        let refused = CRecords.withCValue(Value.immutable(oversized)) { api.store(host, $0, -1, Self.callback, nil) }
        #expect(refused == CARRIER_ERR_INVALID_ARGUMENT)
        #expect(fixture.logs.lines.withLock { $0 }.contains("store refused: data of 1025 bytes exceeds 1024"), "\(fixture.logs.lines.withLock { $0 })")
        #expect(CRecords.withCValue(Value.immutable(data)) { api.store(host, $0, -2, Self.callback, nil) } == CARRIER_ERR_INVALID_ARGUMENT)
        #expect(api.store(host, nil, -1, Self.callback, nil) == CARRIER_ERR_INVALID_ARGUMENT)
        fixture.releaseAfterStop()
        await fixture.network.stop()
    }
}
