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

    @Test func anOperatorSetsPlansAndCreditAndReadsUsage() async throws {
        let client = Id.random()
        let folder = try supernodeFolder(client: client)
        let plan = try await CarrierBinary.run(["billing", "plan", "set", client.base58, "pro", "--manifests", folder])
        #expect(plan.status == 0 && plan.standardOutput == "\(client.base58) is on plan pro for org.example.priced\n", "\(plan.standardError)")
        let unknown = try await CarrierBinary.run(["billing", "plan", "set", client.base58, "gold", "--manifests", folder])
        #expect(unknown.status == 1 && unknown.standardError == "error: no manifest has a plan named \"gold\" (plans: basic, pro)\n")
        let credit = try await CarrierBinary.run(["billing", "credit", client.base58, "2.5", "--manifests", folder])
        #expect(credit.status == 0 && credit.standardOutput == "\(client.base58): balance 1.5\n", "1 credit was charged for 4 requests")
        let bad = try await CarrierBinary.run(["billing", "credit", client.base58, "1e3", "--manifests", folder])
        #expect(bad.status == 1 && bad.standardError.contains("1e3 is not an amount"))

        // Another client's use and credit: in the ledger's totals, not in this client's.
        let other = Id.random()
        let manifest = try PluginManifest.load("\(folder)/priced.toml")
        let accounts = try BillingAccounts(ledger: BillingLedger.open(dataDirectory: "\(folder)/data"))
        accounts.report(client: other, plugin: manifest.id, section: manifest.billing, meter: "requests", amount: 12)
        try accounts.flush()
        #expect(try await CarrierBinary.run(["billing", "credit", other.base58, "3", "--manifests", folder]).status == 0)

        // Money as the text shows it, decimal strings; --client filters every part.
        let text = try await CarrierBinary.run(["billing", "usage", "--client", client.base58, "--manifests", folder]).standardOutput
        #expect(text.contains("14 units  charged 1\n") && text.contains("balance 1.5"), "\(text)")
        let usage = try await CarrierBinary.run(["billing", "usage", "--client", client.base58, "--json", "--manifests", folder])
        let report = try #require(try JSONSerialization.jsonObject(with: Data(usage.standardOutput.utf8)) as? [String: Any], "\(usage.standardError)")
        let rows = try #require(report["usage"] as? [[String: Any]])
        #expect(rows.count == 1 && rows[0]["units"] as? Int == 14 && rows[0]["charged"] as? String == "1")
        #expect((report["clients"] as? [[String: Any]])?.map { $0["client"] as? String } == [client.base58])
        #expect((report["clients"] as? [[String: Any]])?.first?["plan"] as? String == "pro")
        #expect((report["clients"] as? [[String: Any]])?.first?["balance"] as? String == "1.5")
        let totals = try #require(report["totals"] as? [String: Any])
        #expect(totals["credited"] as? String == "2.5")
        let meters = try #require(totals["usage"] as? [[String: Any]])
        #expect(meters.count == 1 && meters[0]["units"] as? Int == 14 && meters[0]["charged"] as? String == "1")

        let all = try await CarrierBinary.run(["billing", "usage", "--json", "--manifests", folder])
        let allTotals = try #require((try JSONSerialization.jsonObject(with: Data(all.standardOutput.utf8)) as? [String: Any])?["totals"] as? [String: Any])
        #expect(allTotals["credited"] as? String == "5.5")
        #expect((allTotals["usage"] as? [[String: Any]])?.first?["units"] as? Int == 26)
        #expect((allTotals["usage"] as? [[String: Any]])?.first?["charged"] as? String == "1.5", "the other client's 2 paid requests cost 0.5")
    }

    @Test func aClientVerifiesItsReceiptsAndCatchesATamperedOne() async throws {
        let client = Id.random()
        let folder = try supernodeFolder(client: client)
        let receipts = try await CarrierBinary.run(["billing", "receipts", "--client", client.base58, "--issue", "--manifests", folder])
        #expect(receipts.status == 0 && receipts.standardError == "issued 1 receipt\n", "\(receipts.standardError)")
        let file = "\(folder)/receipts.jsonl"
        try receipts.standardOutput.write(toFile: file, atomically: true, encoding: .utf8)
        let verified = try await CarrierBinary.run(["billing", "verify", file])
        #expect(verified.status == 0 && verified.standardOutput == "ok: 1 receipt of 1 client verify; no gaps\n", "\(verified.standardOutput)")

        try receipts.standardOutput.replacingOccurrences(of: "\"units\":14", with: "\"units\":4").write(toFile: file, atomically: true, encoding: .utf8)
        let tampered = try await CarrierBinary.run(["billing", "verify", file])
        #expect(tampered.status == 1 && tampered.standardOutput.contains("the signature does not verify"), "\(tampered.standardOutput)")
        let garbage = try await CarrierBinary.run(["billing", "verify", "-"], standardInput: "not a receipt\n")
        #expect(garbage.status == 1 && garbage.standardOutput.hasPrefix("line 1: not JSON"), "\(garbage.standardOutput)")
    }
}
