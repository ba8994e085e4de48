import CarrierCore
import CarrierHost
import Foundation
import TestSupport
import Testing

/// `carrier billing ...` as an operator and a client use them, on a supernode's manifests folder.
struct BillingCommandTests {
    /// A manifests folder whose one plugin prices `requests` (plans basic and pro), with usage of
    /// `client` in its ledger and the node's identity in its data directory.
    private func supernodeFolder(client: Id) throws -> String {
        let folder = NSTemporaryDirectory() + "carrier-billing-cli-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try "data_dir = \"data\"\nlisten = [\"127.0.0.1:0\"]\n".write(toFile: "\(folder)/node.toml", atomically: true, encoding: .utf8)
        try """
            id = "org.example.priced"
            version = "1"
            library = "/nonexistent.so"
            enabled = false
            [billing]
            default_plan = "basic"
            [billing.plans.basic]
            period = "1d"
            [billing.plans.basic.meters.requests]
            free = 10
            price = 0.25
            [billing.plans.pro]
            period = "1d"
            """.write(toFile: "\(folder)/priced.toml", atomically: true, encoding: .utf8)
        _ = try IdentityFile.loadOrCreate(dataDirectory: "\(folder)/data")
        let manifest = try PluginManifest.load("\(folder)/priced.toml")
        let accounts = try BillingAccounts(ledger: BillingLedger.open(dataDirectory: "\(folder)/data"))
        accounts.report(client: client, plugin: manifest.id, section: manifest.billing, meter: "requests", amount: 14)
        try accounts.flush()
        return folder
    }

    @Test func anOperatorSetsPlansAndCreditAndReadsUsage() throws {
        let client = Id.random()
        let folder = try supernodeFolder(client: client)
        let plan = try CarrierBinary.run(["billing", "plan", "set", client.base58, "pro", "--manifests", folder])
        #expect(plan.status == 0 && plan.standardOutput == "\(client.base58) is on plan pro for org.example.priced\n", "\(plan.standardError)")
        let unknown = try CarrierBinary.run(["billing", "plan", "set", client.base58, "gold", "--manifests", folder])
        #expect(unknown.status == 1 && unknown.standardError == "error: no manifest has a plan named \"gold\" (plans: basic, pro)\n")
        let credit = try CarrierBinary.run(["billing", "credit", client.base58, "2.5", "--manifests", folder])
        #expect(credit.status == 0 && credit.standardOutput == "\(client.base58): balance 1.5\n", "1 credit was charged for 4 requests")
        let bad = try CarrierBinary.run(["billing", "credit", client.base58, "1e3", "--manifests", folder])
        #expect(bad.status == 1 && bad.standardError.contains("1e3 is not an amount"))

        let usage = try CarrierBinary.run(["billing", "usage", "--client", client.base58, "--json", "--manifests", folder])
        let report = try #require(try JSONSerialization.jsonObject(with: Data(usage.standardOutput.utf8)) as? [String: Any], "\(usage.standardError)")
        let rows = try #require(report["usage"] as? [[String: Any]])
        #expect(rows.count == 1 && rows[0]["units"] as? Int == 14 && rows[0]["charged"] as? Int == 1_000_000)
        #expect((report["clients"] as? [[String: Any]])?.first?["plan"] as? String == "pro")
        #expect((report["clients"] as? [[String: Any]])?.first?["balance"] as? String == "1.5")
    }

    @Test func aClientVerifiesItsReceiptsAndCatchesATamperedOne() throws {
        let client = Id.random()
        let folder = try supernodeFolder(client: client)
        let receipts = try CarrierBinary.run(["billing", "receipts", "--client", client.base58, "--issue", "--manifests", folder])
        #expect(receipts.status == 0 && receipts.standardError == "issued 1 receipt\n", "\(receipts.standardError)")
        let file = "\(folder)/receipts.jsonl"
        try receipts.standardOutput.write(toFile: file, atomically: true, encoding: .utf8)
        let verified = try CarrierBinary.run(["billing", "verify", file])
        #expect(verified.status == 0 && verified.standardOutput == "ok: 1 receipt of 1 client verify; no gaps\n", "\(verified.standardOutput)")

        try receipts.standardOutput.replacingOccurrences(of: "\"units\":14", with: "\"units\":4").write(toFile: file, atomically: true, encoding: .utf8)
        let tampered = try CarrierBinary.run(["billing", "verify", file])
        #expect(tampered.status == 1 && tampered.standardOutput.contains("the signature does not verify"), "\(tampered.standardOutput)")
        let garbage = try CarrierBinary.run(["billing", "verify", "-"], standardInput: "not a receipt\n")
        #expect(garbage.status == 1 && garbage.standardOutput.hasPrefix("line 1: not JSON"), "\(garbage.standardOutput)")
    }
}
