import CarrierCore
@testable import CarrierHost
import Foundation
import Synchronization
import Testing

/// Usage receipts: issued from the ledger, signed by the node, verified offline; an altered
/// receipt, a gap, or a broken link is detected.
struct ReceiptTests {
    /// The time the ledger's flushes see, moved by the test.
    final class Clock: Sendable {
        let now: Atomic<Int64>
        init(_ start: Int64) { now = Atomic(start) }
    }

    private static func ledgerWithUsage(_ clients: [Id], clock: Clock) throws -> (BillingLedger, BillingAccounts) {
        let folder = NSTemporaryDirectory() + "carrier-receipts-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let ledger = try BillingLedger.open(dataDirectory: folder)
        let accounts = try BillingAccounts(ledger: ledger, clock: { clock.now.load(ordering: .relaxed) })
        for client in clients {
            accounts.report(client: client, plugin: BillingSoak.plugin, section: BillingSoak.section, meter: BillingSoak.meter, amount: 1_500)
        }
        try accounts.flush()
        return (ledger, accounts)
    }

    @Test func receiptsAreIssuedOnDemandAndAtPeriodEndAndVerify() throws {
        let node = KeyPair.random(), client = Id.random()
        let start = Money.epoch + 100, clock = Clock(start)
        let (ledger, accounts) = try Self.ledgerWithUsage([client], clock: clock)
        let book = ReceiptBook(ledger: ledger, identity: node)
        #expect(try book.issue(openPeriods: false, now: start).isEmpty, "the period runs: no final receipt yet")

        let open = try #require(try book.issue(openPeriods: true, now: start).first)
        #expect(open.sequence == 1 && !open.isFinal && open.units == 1_500 && open.charge == 500 && open.microPrice == 1)
        #expect(open.issuer == node.publicKey && open.isValid)
        #expect(try book.issue(openPeriods: true, now: start).isEmpty, "nothing changed since")

        // The period ended, but the ledger has not yet committed everything up to its end.
        let afterEnd = Money.epoch + 86_400 + 5
        #expect(try book.issue(openPeriods: false, now: afterEnd).isEmpty, "no final receipt before the flush after the period's end")
        clock.now.store(afterEnd, ordering: .relaxed)
        try accounts.flush()
        let final = try #require(try book.issue(openPeriods: false, now: afterEnd).first)
        #expect(final.sequence == 2 && final.isFinal && final.previous == open.digest)
        #expect(try book.issue(openPeriods: true, now: Money.epoch + 90_000).isEmpty, "a final receipt is the last one of its period")

        let lines = try book.receipts(client: client)
        let parsed = try lines.map { try UsageReceipt(json: $0) }
        #expect(parsed == [open, final])
        #expect(ReceiptChain.problems(in: parsed).isEmpty)
    }

    @Test func anAlteredReceiptAGapOrABrokenLinkIsDetected() throws {
        let node = KeyPair.random(), client = Id.random()
        var receipts: [UsageReceipt] = []
        for sequence in 1...4 {
            var receipt = UsageReceipt(issuer: node.publicKey, client: client, service: "s", meter: "m", units: Int64(sequence * 10),
                                       microPrice: 1, charge: Int64(sequence), currency: "credit", periodStart: 0, periodEnd: 60,
                                       isFinal: false, sequence: Int64(sequence),
                                       previous: receipts.last?.digest ?? [UInt8](repeating: 0, count: 32), issuedAt: Int64(sequence))
            receipt.sign(with: node)
            receipts.append(receipt)
        }
        #expect(ReceiptChain.problems(in: receipts).isEmpty)

        var altered = receipts
        altered[1].units = 1
        #expect(ReceiptChain.problems(in: altered).first?.contains("seq 2 of client \(client.base58): the signature does not verify") == true)

        let gap = [receipts[0], receipts[2], receipts[3]]
        #expect(ReceiptChain.problems(in: gap) == ["client \(client.base58): seq 2 is missing (between 1 and 3)"])
        #expect(ReceiptChain.problems(in: Array(receipts.dropFirst(2))) == ["client \(client.base58): seq 1 to 2 are missing (the chain starts at 3)"])

        // Re-signed by the issuer but not chained: a receipt replaced after the fact.
        var replaced = receipts[2]
        replaced.previous = [UInt8](repeating: 9, count: 32)
        replaced.sign(with: node)
        #expect(ReceiptChain.problems(in: [receipts[0], receipts[1], replaced, receipts[3]]) == [
            "seq 3 of client \(client.base58) does not chain to seq 2 (its prev differs)",
            "seq 4 of client \(client.base58) does not chain to seq 3 (its prev differs)",
        ])

        let forged = { () -> UsageReceipt in
            var receipt = receipts[0]
            receipt.sign(with: node)
            receipt.issuer = KeyPair.random().publicKey
            return receipt
        }()
        #expect(!forged.isValid)
    }

    @Test(arguments: [
        ("[]", "a receipt is a JSON object, not a array"),
        ("{\"v\":2}", "\"v\" must be 1"),
        ("{\"v\":1}", "missing \"issuer\""),
    ])
    func malformedReceiptsAreRefused(text: String, reason: String) {
        #expect { try UsageReceipt(json: text) } throws: { "\($0)".contains(reason) }
    }

    @Test func unknownFieldsAndBadAmountsAreRefused() throws {
        var receipt = UsageReceipt(issuer: Id.random(), client: Id.random(), service: "s", meter: "m", units: 1, microPrice: 1, charge: 1,
                                   currency: "credit", periodStart: 0, periodEnd: 1, isFinal: true, sequence: 1,
                                   previous: [UInt8](repeating: 0, count: 32), issuedAt: 1)
        receipt.signature = [UInt8](repeating: 1, count: 64)
        #expect(try UsageReceipt(json: receipt.json) == receipt)
        #expect { try UsageReceipt(json: receipt.json.replacingOccurrences(of: "}", with: ",\"x\":1}")) } throws: { "\($0)" == "unknown field \"x\"" }
        #expect { try UsageReceipt(json: receipt.json.replacingOccurrences(of: "\"charge\":\"0.000001\"", with: "\"charge\":\"1e-6\"")) }
            throws: { "\($0)" == "\"charge\" must be a decimal amount" }
    }
}
