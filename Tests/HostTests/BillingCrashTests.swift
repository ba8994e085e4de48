import CarrierCore
@testable import CarrierHost
import Foundation
import TestSupport
import Testing

/// `kill -9` of a process reporting usage as fast as it can (`carrier billing soak`, a real child
/// process): the ledger keeps everything flushed before the kill, loses at most what was reported
/// since the last flush, never counts anything twice, and stays consistent (balance = journal).
struct BillingCrashTests {
    @Test func aKilledHostLosesAtMostOneFlushAndNeverCountsTwice() async throws {
        let folder = NSTemporaryDirectory() + "carrier-billing-crash-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        var durableBefore: Int64 = 0
        // Two kills in the middle of reporting; then one after a small budget was reported and
        // flushed, where every unit must be there exactly once.
        for (round, (budget, killAfter)) in [(Int64.max, 0.7), (Int64.max, 1.4), (Int64(10_000), 3.0)].enumerated() {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: CarrierBinary.path)
            process.arguments = ["billing", "soak", "--ledger", folder, "--threads", "2", "--seconds", "30", "--flush-ms", "200"]
                + (budget < .max ? ["--reports", "\(budget)"] : [])
            let output = Pipe()
            process.standardOutput = output
            try process.run()
            try await Task.sleep(for: .milliseconds(Int(killAfter * 1000)))
            kill(process.processIdentifier, SIGKILL)
            await process.exited()
            #expect(process.terminationReason == .uncaughtSignal, "round \(round): the soak was still running when killed")
            let lines = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).split(separator: "\n")
            let flushedAtLeast = lines.compactMap { line -> Int64? in
                guard let range = line.range(of: "\"flushedAtLeast\":") else { return nil }
                return Int64(line[range.upperBound...].prefix { $0.isNumber })
            }.last ?? 0
            #expect(flushedAtLeast > 0, "round \(round): at least one flush committed before the kill")

            let ledger = try BillingLedger(path: "\(folder)/soak.sqlite")
            let durable = try ledger.usage().reduce(0) { $0 + $1.units }
            let added = durable - durableBefore
            #expect(added >= flushedAtLeast, "round \(round): \(added) durable, but \(flushedAtLeast) were flushed before the kill")
            let reportedAtMost = lines.compactMap { line -> Int64? in
                guard let range = line.range(of: "\"reported\":") else { return nil }
                return Int64(line[range.upperBound...].prefix { $0.isNumber })
            }.last ?? 0
            if budget < .max {
                #expect(flushedAtLeast == budget && added == budget, "round \(round): \(added) durable of exactly \(budget) reported and flushed")
            } else {
                #expect(added <= reportedAtMost + 200_000, "round \(round): \(added) durable, far more than the \(reportedAtMost) reported at the last flush")
            }
            for client in BillingSoak.clients.prefix(50) {
                #expect(try ledger.client(client)?.balance ?? 0 == ledger.journalSum(client: client), "balance = journal")
            }
            durableBefore = durable
        }
    }
}
