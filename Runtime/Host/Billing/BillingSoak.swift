import CarrierCore
import CarrierPluginABI
import Foundation
import Synchronization

/// A load test of billing on a scratch ledger: `threads` threads call `authorize` then `report`
/// (1 unit of a priced meter, for one of 1,000 clients) as fast as they can, while the ledger
/// flushes every `flushInterval`. `carrier billing soak` runs it (an operator measures a disk),
/// `make bench` takes its figures, and the crash test kills it with SIGKILL mid-run.
public enum BillingSoak {
    /// The plan the soak prices its meter with: 1,000 free requests per day, then 1 micro-credit each.
    public static let section: BillingSection = {
        var section = BillingSection()
        section.defaultPlan = "soak"
        section.plans["soak"] = BillingSection.Plan(periodSeconds: 86_400,
                                                     meters: ["requests": BillingSection.MeterPrice(freeUnits: 1_000, pricePerUnit: 0.000001, limit: nil)])
        return section
    }()

    public static let plugin = "org.carrier.billing-soak"
    public static let meter = "requests"

    /// The clients the soak bills (fixed, so runs on one ledger add up).
    public static let clients: [Id] = (0..<1_000).map { index in
        Id(bytes: Sodium.sha256(Array("carrier/billing-soak/\(index)".utf8)))!
    }

    /// After each flush: every report that returned before the flush began is durable
    /// (`flushedAtLeast`); at most `reported` had begun by the time it committed.
    public struct Progress: Sendable, Codable {
        public let reported: Int64
        public let flushedAtLeast: Int64
        public let flushes: Int
    }

    /// What a run measured.
    public struct Result: Sendable, Codable {
        public let threads: Int
        public let reported: Int64
        public let seconds: Double
        /// authorize + report, per call, per thread.
        public let nanosecondsPerCall: Double
        public let flushes: Int
        /// Usage rows per flush, on average.
        public let rowsPerFlush: Double
        /// How long a flush took, on average (ms).
        public let flushMilliseconds: Double
    }

    /// Runs for `seconds`, reporting until then or until `maxReports` reports (then only flushing),
    /// and calls `progress` after each flush. The rate is measured over the reporting time.
    public static func run(ledger: BillingLedger, threads: Int, seconds: Double, maxReports: Int64 = .max,
                           flushInterval: Duration = .seconds(1), progress: @escaping @Sendable (Progress) -> Void = { _ in }) throws -> Result {
        let accounts = try BillingAccounts(ledger: ledger, flushInterval: flushInterval)
        // `claimed` counts reports begun (the budget), `completed` those that returned.
        let claimed = Atomic<Int64>(0), completed = Atomic<Int64>(0), done = Atomic<Bool>(false)
        let clock = ContinuousClock(), started = clock.now
        let finished = DispatchSemaphore(value: 0)
        for worker in 0..<threads {
            Thread {
                defer { finished.signal() }
                var index = worker * 7919
                while !done.load(ordering: .relaxed) {
                    guard claimed.add(1, ordering: .relaxed).newValue <= maxReports else {
                        claimed.subtract(1, ordering: .relaxed)
                        return
                    }
                    let client = clients[index % clients.count]
                    index += 1
                    _ = accounts.authorize(client: client, plugin: plugin, section: section, meter: meter, estimate: 1)
                    accounts.report(client: client, plugin: plugin, section: section, meter: meter, amount: 1)
                    completed.add(1, ordering: .relaxed)
                }
            }.start()
        }
        var flushes = 0, rows = 0, flushTime = Duration.zero
        var running = threads, elapsed = Duration.zero
        let intervalMilliseconds = Int(flushInterval.milliseconds)
        // Flush every interval until the time is up and the workers are done (a worker stops at
        // the time or at the report budget; the flushes go on until the time is up either way).
        while running > 0 || clock.now - started < .seconds(seconds) {
            if running > 0, finished.wait(timeout: .now() + .milliseconds(intervalMilliseconds)) == .success {
                running -= 1
                if running == 0 { elapsed = clock.now - started }
                continue
            }
            if running == 0 { Thread.sleep(forTimeInterval: Double(intervalMilliseconds) / 1000) }
            let before = completed.load(ordering: .relaxed)
            let flushStarted = clock.now
            rows += try accounts.flush()
            flushTime += clock.now - flushStarted
            flushes += 1
            progress(Progress(reported: claimed.load(ordering: .relaxed), flushedAtLeast: before, flushes: flushes))
            if clock.now - started >= .seconds(seconds) { done.store(true, ordering: .relaxed) }
        }
        let before = completed.load(ordering: .relaxed)
        rows += try accounts.flush()
        flushes += 1
        progress(Progress(reported: before, flushedAtLeast: before, flushes: flushes))
        let total = completed.load(ordering: .relaxed)
        let secondsTaken = elapsed.seconds, flushSeconds = flushTime.seconds
        return Result(threads: threads, reported: total, seconds: secondsTaken,
                      nanosecondsPerCall: total > 0 ? secondsTaken * 1e9 * Double(threads) / Double(total) : 0,
                      flushes: flushes, rowsPerFlush: Double(rows) / Double(max(flushes, 1)),
                      flushMilliseconds: flushes > 1 ? flushSeconds * 1000 / Double(flushes - 1) : 0)
    }
}
