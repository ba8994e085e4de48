import CarrierCore
@testable import CarrierHost
import CarrierPluginABI
import Foundation
import Synchronization
import TestSupport
import Testing

/// Billing on a real SQLite ledger: plans, quotas, credit, exact totals under concurrency, periods.
struct BillingTests {
    /// A ledger in a fresh folder, and a clock the test moves.
    private final class Fixture: Sendable {
        let ledger: BillingLedger
        /// The time the ledger sees (Unix seconds), moved by the test.
        final class Clock: Sendable { let now = Atomic<Int64>(Money.epoch + 1_000) }
        let clock: Clock
        var time: Int64 { clock.now.load(ordering: .relaxed) }
        func advance(_ seconds: Int64) { clock.now.add(seconds, ordering: .relaxed) }
        let accounts: BillingAccounts

        init() throws {
            let folder = NSTemporaryDirectory() + "carrier-billing-\(UUID().uuidString)"
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            ledger = try BillingLedger.open(dataDirectory: folder)
            let clock = Clock()
            accounts = try BillingAccounts(ledger: ledger, clock: { clock.now.load(ordering: .relaxed) })
            self.clock = clock
        }
    }

    /// requests: 3 free per day, then 0.5 credit each, at most 6 a day; "pro": 100 free per hour.
    static let section: BillingSection = {
        let text = """
            id = "org.example.priced"
            version = "1"
            library = "/lib.so"
            [billing]
            default_plan = "basic"
            [billing.plans.basic]
            period = "1d"
            [billing.plans.basic.meters.requests]
            free = 3
            price = 0.5
            limit = 6
            [billing.plans.pro]
            period = "1h"
            [billing.plans.pro.meters.requests]
            free = 100
            """
        return try! PluginManifest.parse(text, file: "/test/priced.toml").billing
    }()

    private func use(_ accounts: BillingAccounts, _ client: Id, _ amount: UInt64 = 1) -> (carrier_billing_decision, String) {
        let answer = accounts.authorize(client: client, plugin: "org.example.priced", section: Self.section, meter: "requests", estimate: amount)
        if answer.0 == CARRIER_BILLING_ALLOWED {
            accounts.report(client: client, plugin: "org.example.priced", section: Self.section, meter: "requests", amount: amount)
        }
        return answer
    }

    @Test func aClientOverItsFreeQuotaIsRefusedThenServedAfterCredit() throws {
        let fixture = try Fixture()
        let client = Id.random()
        for _ in 0..<3 { #expect(use(fixture.accounts, client).0 == CARRIER_BILLING_ALLOWED) }
        let (refused, reason) = use(fixture.accounts, client)
        #expect(refused == CARRIER_BILLING_PAYMENT_REQUIRED)
        #expect(reason == "the 3 free requests per 1d of plan basic are used; this needs 0.5 credit and the balance is 0 credit", "\(reason)")

        // The operator adds credit (as `carrier billing credit` does); the next flush applies it.
        try fixture.ledger.credit(client, amount: Money.micro(1.2), note: "invoice 7", at: fixture.time)
        try fixture.accounts.flush()
        #expect(use(fixture.accounts, client).0 == CARRIER_BILLING_ALLOWED)
        #expect(use(fixture.accounts, client).0 == CARRIER_BILLING_ALLOWED)
        #expect(fixture.accounts.balance(of: client).balance == Money.micro(0.2))
        #expect(use(fixture.accounts, client).1.contains("this needs 0.5 credit and the balance is 0.2 credit"))

        // The hard limit refuses even with credit.
        try fixture.ledger.credit(client, amount: Money.micro(10), note: "top-up", at: 0)
        try fixture.accounts.flush()
        #expect(use(fixture.accounts, client).0 == CARRIER_BILLING_ALLOWED)
        let (limited, why) = use(fixture.accounts, client)
        #expect(limited == CARRIER_BILLING_QUOTA_EXCEEDED && why == "limit of 6 requests per 1d on plan basic reached (6 used)", "\(why)")

        // Everything reached the ledger, and the balance is the sum of the journal.
        try fixture.accounts.flush()
        let usage = try fixture.ledger.usage(client: client)
        #expect(usage.map(\.units) == [6] && usage.map(\.charged) == [Money.micro(1.5)])
        #expect(try fixture.ledger.client(client)?.balance == Money.micro(11.2 - 1.5))
        #expect(try fixture.ledger.journalSum(client: client) == Money.micro(11.2 - 1.5))
    }

    @Test func aPlanSetByTheOperatorAppliesAtTheNextFlushAndPeriodsRollOver() throws {
        let fixture = try Fixture()
        let client = Id.random()
        for _ in 0..<3 { _ = use(fixture.accounts, client) }
        #expect(use(fixture.accounts, client).0 == CARRIER_BILLING_PAYMENT_REQUIRED)
        try fixture.ledger.setPlan(client, plan: "pro", at: 0)
        try fixture.accounts.flush()
        #expect(fixture.accounts.balance(of: client).plan == "pro")
        #expect(use(fixture.accounts, client, 100).0 == CARRIER_BILLING_ALLOWED, "pro counts its own hourly period")
        #expect(use(fixture.accounts, client).0 == CARRIER_BILLING_ALLOWED, "pro has no price: free beyond its quota")

        // Back on basic, a day later: a new period, three free requests again.
        try fixture.ledger.setPlan(client, plan: nil, at: 0)
        fixture.advance(86_400)
        try fixture.accounts.flush()
        for _ in 0..<3 { #expect(use(fixture.accounts, client).0 == CARRIER_BILLING_ALLOWED) }
        #expect(use(fixture.accounts, client).0 == CARRIER_BILLING_PAYMENT_REQUIRED)
        try fixture.accounts.flush()
        #expect(try fixture.ledger.usage(client: client).map(\.units).sorted() == [3, 3, 101])
    }

    @Test func concurrentReportsGiveExactTotals() async throws {
        let fixture = try Fixture()
        let clients = (0..<8).map { _ in Id.random() }
        for client in clients { try fixture.ledger.credit(client, amount: Money.micro(1_000_000), note: "", at: 0) }
        let accounts = fixture.accounts
        let section = BillingSoak.section
        await withTaskGroup(of: Void.self) { group in
            for worker in 0..<4 {
                group.addTask {
                    for round in 0..<5_000 {
                        let client = clients[(worker + round) % clients.count]
                        accounts.report(client: client, plugin: "p", section: section, meter: "requests", amount: 3)
                        if round % 1_000 == 0 { _ = try? accounts.flush() }
                    }
                }
            }
        }
        try accounts.flush()
        let usage = try fixture.ledger.usage()
        #expect(usage.reduce(0) { $0 + $1.units } == 4 * 5_000 * 3)
        // 1,000 free per client, then 1 micro-credit per unit.
        let perClient = Int64(4 * 5_000 * 3 / clients.count)
        for client in clients {
            #expect(try fixture.ledger.usage(client: client).first?.charged == perClient - 1_000)
            #expect(try fixture.ledger.client(client)?.balance == Money.micro(1_000_000) - (perClient - 1_000))
            #expect(try fixture.ledger.journalSum(client: client) == Money.micro(1_000_000) - (perClient - 1_000))
        }
    }

    @Test func absurdAmountsSaturateInsteadOfTrapping() throws {
        let fixture = try Fixture()
        let client = Id.random()
        for _ in 0..<3 {
            fixture.accounts.report(client: client, plugin: "p", section: BillingSoak.section, meter: "requests", amount: .max)
        }
        // The answer for a saturated count does not matter (the ABI refuses such amounts); not trapping does.
        _ = fixture.accounts.authorize(client: client, plugin: "p", section: BillingSoak.section, meter: "requests", estimate: .max)
        try fixture.accounts.flush()
        #expect(try fixture.ledger.usage(client: client).map(\.units) == [Int64.max])
        #expect(Money.sum(.max, 1) == .max && Money.sum(.min, -1) == .min && Money.sum(2, 3) == 5)
    }

    @Test func moneyIsExact() {
        #expect(Money.parse("0.5") == 500_000 && Money.parse("-1.25") == -1_250_000 && Money.parse("3") == 3_000_000)
        #expect(Money.parse("0.0000001") == nil && Money.parse("1e3") == nil && Money.parse("") == nil && Money.parse(".5") == nil)
        #expect(Money.text(1_500_000) == "1.5" && Money.text(-1) == "-0.000001" && Money.text(0) == "0")
        let terms = MeterTerms.resolve(Self.section, plan: nil, meter: "requests")!
        #expect(terms.charge(used: 2, amount: 3) == Money.micro(1.0), "one free unit left, two charged")
        #expect(terms.periodStart(at: Money.epoch + 86_400 + 5) == Money.epoch + 86_400)
        #expect(terms.periodStart(at: Money.epoch - 1) == Money.epoch - 86_400)
        #expect(MeterTerms.resolve(Self.section, plan: nil, meter: "unpriced") == nil)
        #expect(MeterTerms.resolve(Self.section, plan: "unknown", meter: "requests")?.plan == "basic")
    }
}
