import CarrierCore
@testable import CarrierHost
import CarrierPluginABI
import Foundation
import TestSupport
import Testing

/// Settlement: final receipts go out in signed batches to the built-in prepaid backend or to a
/// plugin with the settlement capability (in process and in a runner), which reports paid or failed.
@Suite(.serialized)
struct SettlementTests {
    /// Final receipts for two clients' use in the first day of 2026, issued by `network`'s node.
    private static func finalReceipts(_ environment: HostEnvironment) throws -> Int64 {
        let day = Money.epoch + 100
        let accounts = try BillingAccounts(ledger: environment.billing.ledger, clock: { day })
        for client in [Id.random(), Id.random()] {
            accounts.report(client: client, plugin: BillingSoak.plugin, section: BillingSoak.section, meter: BillingSoak.meter, amount: 2_000)
        }
        try accounts.flush()
        let later = Money.epoch + 2 * 86_400
        try BillingAccounts(ledger: environment.billing.ledger, clock: { later }).flush()  // committed past the period's end
        #expect(try ReceiptBook(ledger: environment.billing.ledger, identity: environment.identity).issue(openPeriods: false, now: later).count == 2)
        return later
    }

    @Test func thePrepaidBackendSettlesSignedBatchesOnce() async throws {
        let network = try await HostNetwork.start()
        let now = try Self.finalReceipts(network.environment)
        let desk = network.environment.settlement
        let offered = try await desk.settle(with: PrepaidCreditBackend(), now: now)
        #expect(offered.count == 1 && offered[0].receipts.count == 2 && offered[0].isValid && offered[0].total == 2_000)
        let batches = try desk.batches()
        #expect(batches.map(\.status) == ["paid"] && batches.map(\.receipts) == [2], "\(batches)")
        #expect(try await desk.settle(with: PrepaidCreditBackend(), now: now).isEmpty, "a paid batch is done")
        #expect(!desk.record(batch: offered[0].id, paid: false, message: "late", backend: "prepaid"), "a paid batch cannot be reported again")
        await network.stop()
    }

    /// Takes every batch and never answers (a backend waiting for confirmations).
    private struct SilentBackend: SettlementBackend {
        let name = "silent"
        func offer(_ batch: SettlementBatch, to desk: SettlementDesk) async -> Bool { true }
    }

    @Test func aBatchTakenIsNotOfferedAgainUntilItsAnswerIsLateAndOnlyItsBackendCanAnswer() async throws {
        let network = try await HostNetwork.start()
        let now = try Self.finalReceipts(network.environment)
        let desk = network.environment.settlement
        let batch = try #require(try await desk.settle(with: SilentBackend(), now: now).first)
        #expect(try desk.batches().map(\.status) == ["offered"])
        #expect(try await desk.settle(with: SilentBackend(), now: now + 60).isEmpty, "taken, and still being confirmed")
        #expect(try await desk.settle(with: PrepaidCreditBackend(), now: now + 60).isEmpty, "another backend is not offered it")
        #expect(!desk.record(batch: batch.id, paid: true, message: "forged", backend: "prepaid"), "only its backend answers")
        #expect(try await desk.settle(with: SilentBackend(), now: now + SettlementDesk.answerTimeout).map(\.id) == [batch.id],
                "offered again once its answer is late")
        #expect(desk.record(batch: batch.id, paid: true, message: "confirmed", backend: "silent"))
        #expect(try desk.batches().map(\.status) == ["paid"])
        await network.stop()
    }

    @Test(arguments: PluginHostTests.isolations) func aSettlementPluginIsOfferedBatchesAndReportsOutcomes(isolation: PluginManifest.Isolation) async throws {
        let network = try await HostNetwork.start()
        let now = try Self.finalReceipts(network.environment)
        let library = try await CPlugins.conformance("settlement_backend")
        let host = PluginHost(environment: network.environment, runnerSettings: RunnerSettings(executable: CarrierBinary.path))
        await host.apply([try HostNetwork.manifest(library: library, id: "conformance.settlement", config: "fail = true", isolation: isolation)])
        #expect(await host.status.first?.state == .running)
        let backend = try #require(await host.settlementBackend)
        #expect(backend.name == "conformance.settlement")

        let desk = network.environment.settlement
        try await desk.settle(with: backend, now: now)
        #expect(await eventually { (try? desk.batches().first?.status) == "failed" })
        #expect(try desk.batches().first?.message == "the card was declined")

        // A failed batch is offered again; this time the backend pays it.
        await host.apply([try HostNetwork.manifest(library: library, id: "conformance.settlement", config: "fail = false", isolation: isolation)])
        try await desk.settle(with: try #require(await host.settlementBackend), now: now)
        #expect(await eventually { (try? desk.batches().first?.status) == "paid" })
        #expect(try desk.batches().map(\.message) == ["collected by the conformance backend"])
        await host.stopAll()
        await network.stop()
    }
}
