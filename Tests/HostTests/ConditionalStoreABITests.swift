import CarrierCore
import CarrierDHT
@testable import CarrierHost
import CarrierPluginABI
import Foundation
import Synchronization
import TestSupport
import Testing

/// `store_value_cas` (ABI 1.3) called through the host-API table as a C plugin calls it: its
/// argument checks, a store on a condition that holds, and one that meets a newer version.
@Suite(.serialized)
struct ConditionalStoreABITests {
    /// What a write callback was told.
    private final class WriteResult: Sendable {
        let answer = Mutex<(status: carrier_status, accepted: UInt32, asked: UInt32)?>(nil)
    }

    /// Calls `store_value_cas` for `value` and waits for its callback.
    private static func store(_ value: Value, cas: Int32, context: PluginContext) async throws -> (status: carrier_status, accepted: UInt32) {
        let result = WriteResult()
        let box = Unmanaged.passRetained(result)
        let started = CRecords.withCValue(value) { pointer in
            HostAPI.table.pointee.store_value_cas(context.handle, pointer, cas, { userData, status, accepted, asked in
                Unmanaged<WriteResult>.fromOpaque(userData!).takeRetainedValue().answer.withLock { $0 = (status, accepted, asked) }
            }, box.toOpaque())
        }
        guard started == CARRIER_OK else {
            box.release()
            return (started, 0)
        }
        #expect(await eventually(within: .seconds(10)) { result.answer.withLock { $0 != nil } })
        let answer = try #require(result.answer.withLock { $0 })
        return (answer.status, answer.accepted)
    }

    @Test func aConditionalStoreChecksItsArgumentsAndReportsAConflict() async throws {
        let network = try await HostNetwork.start()
        let manifest = try HostNetwork.manifest(library: "/nonexistent.so", id: "abi.conditional-store", pin: .some(nil))
        let services = LocalPluginServices(environment: network.environment, manifest: manifest, version: "1.0.0")
        let context = try PluginContext(manifest: manifest, services: services, dataDirectory: network.host.configuration.dataDirectory)
        #expect(context.advance(to: .running))
        let owner = KeyPair.random()
        let two = Value.signed(by: owner, sequenceNumber: 2, data: Array("two".utf8))

        // Refused at once, with no callback: a negative cas, a NULL value, an invalid value.
        #expect(try await Self.store(two, cas: -1, context: context).status == CARRIER_ERR_INVALID_ARGUMENT)
        #expect(HostAPI.table.pointee.store_value_cas(context.handle, nil, 0, { _, _, _, _ in }, nil) == CARRIER_ERR_INVALID_ARGUMENT)
        var forged = two
        forged.data = Array("altered".utf8)
        #expect(try await Self.store(forged, cas: 0, context: context).status == CARRIER_ERR_INVALID_ARGUMENT)

        // Nothing newer than 0 is held: stored. Then version 3, written after reading only 1,
        // meets version 2: a conflict, and the node keeps 2.
        let stored = try await Self.store(two, cas: 0, context: context)
        #expect(stored.status == CARRIER_OK && stored.accepted == 1, "\(stored)")
        let three = Value.signed(by: owner, sequenceNumber: 3, data: Array("three, after reading one".utf8))
        let conflict = try await Self.store(three, cas: 1, context: context)
        #expect(conflict.status == CARRIER_ERR_CONFLICT && conflict.accepted == 0, "\(conflict)")
        #expect(await network.client.findValue(owner.publicKey) == two)

        context.advance(to: .stopped)
        await network.stop()
    }
}
