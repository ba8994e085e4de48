import CarrierCore
import CarrierHost
import Foundation

/// Billing's hot path and its durable writes, on a scratch ledger (`BillingSoak`, as
/// `carrier billing soak` runs it): authorize + report per call from one and from two threads, a
/// flush of the 1,000 rows those clients touch, and the smallest flush (one row: a commit and its fsync).
enum BillingBenchmark {
    struct Figures {
        let oneThread: BillingSoak.Result
        let twoThreads: BillingSoak.Result
        let smallFlushMilliseconds: Double
    }

    static func run(seconds: Double) throws -> Figures {
        let folder = NSTemporaryDirectory() + "carrier-billing-bench-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let one = try BillingSoak.run(ledger: try BillingLedger(path: "\(folder)/one.sqlite"), threads: 1, seconds: seconds)
        let two = try BillingSoak.run(ledger: try BillingLedger(path: "\(folder)/two.sqlite"), threads: 2, seconds: seconds)

        let accounts = try BillingAccounts(ledger: try BillingLedger(path: "\(folder)/small.sqlite"))
        let client = BillingSoak.clients[0]
        var samples: [Double] = []
        for _ in 0..<50 {
            accounts.report(client: client, plugin: BillingSoak.plugin, section: BillingSoak.section, meter: BillingSoak.meter, amount: 1)
            let started = ContinuousClock.now
            try accounts.flush()
            samples.append(Measurement.milliseconds(ContinuousClock.now - started))
        }
        return Figures(oneThread: one, twoThreads: two, smallFlushMilliseconds: samples.sorted()[samples.count / 2])
    }
}
