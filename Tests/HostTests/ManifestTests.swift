import CarrierCore
import CarrierDHT
import CarrierHost
import Foundation
import TestSupport
import Testing

/// Plugin manifests and the node configuration: every field checked, errors name file and field.
struct ManifestTests {
    let file = "/etc/carrier/manifests/hello.toml"

    private let complete = """
        id = "org.example.hello"
        version = "1.2.0"
        library = "../lib/libhello.so"
        sha256 = "\(String(repeating: "ab", count: 32))"
        abi = 1
        enabled = true
        isolation = "process"
        depends_on = ["org.example.base"]

        [service]
        type = "hello"
        endpoint = "tcp://{host}:39100"

        [config]
        greeting = "hi"
        limits = { rate = 5 }

        [billing]
        currency = "credit"
        default_plan = "free"
        [billing.plans.free]
        period = "30d"
        [billing.plans.free.meters.requests]
        free = 1000
        price = 0.5
        limit = 2000
        """

    private func failure(_ text: String) -> ManifestError? {
        do {
            _ = try PluginManifest.parse(text, file: file)
            return nil
        } catch {
            return error
        }
    }

    @Test func aCompleteManifestReadsEveryField() throws {
        let manifest = try PluginManifest.parse(complete, file: file)
        #expect(manifest.id == "org.example.hello" && manifest.version == "1.2.0")
        #expect(manifest.library == "/etc/carrier/lib/libhello.so", "relative to the manifest's folder")
        #expect(manifest.sha256 == String(repeating: "ab", count: 32))
        #expect(manifest.isolation == .process && manifest.enabled && manifest.dependsOn == ["org.example.base"])
        #expect(manifest.service?.type == "hello" && manifest.service?.endpoint == "tcp://{host}:39100")
        let config = try JSONSerialization.jsonObject(with: Data(manifest.configJSON.utf8)) as? [String: Any]
        #expect(config?["greeting"] as? String == "hi")
        #expect((config?["limits"] as? [String: Any])?["rate"] as? Int == 5)
        let plan = try #require(manifest.billing.plans["free"])
        #expect(manifest.billing.defaultPlan == "free" && plan.periodSeconds == 30 * 86_400)
        let requests = try #require(plan.meters["requests"])
        #expect(requests.freeUnits == 1000 && requests.pricePerUnit == 0.5 && requests.limit == 2000)
        #expect(manifest.billing.priceSummary == "requests: 1000 free per 30d, then 0.5 credit each, limit 2000")
        #expect(manifest.billing.servicePrices == ServiceRecord.Prices(currency: "credit", meters: [
            "requests": ServiceRecord.MeterPrice(freeUnits: 1000, microPrice: 500_000, periodSeconds: 30 * 86_400)]))
    }

    @Test func theShippedManifestsAreValid() throws {
        let set = try ManifestSet.load(directory: CPlugins.repository.appendingPathComponent("Manifests").path)
        #expect(set.plugins.map(\.id).sorted() == ["org.carrier.examples.hello-c", "org.carrier.proxy", "org.carrier.shadow"])
        #expect(set.plugins.first { $0.id == "org.carrier.proxy" }?.isolation == .process)
        let shadow = try #require(set.plugins.first { $0.id == "org.carrier.shadow" })
        #expect(shadow.isolation == .process && shadow.billing.defaultPlan == "free", "\(shadow)")
    }

    @Test func theSmallestManifestTakesTheDefaults() throws {
        let manifest = try PluginManifest.parse("id = \"x\"\nversion = \"1\"\nlibrary = \"/l.so\"\n", file: file)
        #expect(manifest.enabled && manifest.isolation == .inProcess && manifest.sha256 == nil && manifest.abiMajor == 1)
        #expect(manifest.service == nil && manifest.configJSON.contains("{") && manifest.billing.plans.isEmpty)
        #expect(manifest.billing.priceSummary == "free")
        #expect(manifest.billing.servicePrices == ServiceRecord.Prices(currency: "credit", meters: [:]), "free: no meter is priced")
    }

    @Test(arguments: [
        ("version = \"1\"\nlibrary = \"/l.so\"", "id", "missing"),
        ("id = \"Hello World\"\nversion = \"1\"\nlibrary = \"/l.so\"", "id", "not a plugin id"),
        ("id = \"..\"\nversion = \"1\"\nlibrary = \"/l.so\"", "id", "starting with a letter or digit"),
        ("id = 7\nversion = \"1\"\nlibrary = \"/l.so\"", "id", "expected a string, found integer"),
        ("id = \"x\"\nversion = \"1\"\nlibrary = \"/l.so\"\nsha256 = \"ABC\"", "sha256", "64 lowercase hex"),
        ("id = \"x\"\nversion = \"1\"\nlibrary = \"/l.so\"\nabi = 2", "abi", "ABI major 1, not 2"),
        ("id = \"x\"\nversion = \"1\"\nlibrary = \"/l.so\"\nisolation = \"thread\"", "isolation", "\"in-process\" or \"process\""),
        ("id = \"x\"\nversion = \"1\"\nlibrary = \"/l.so\"\nenabeld = true", "enabeld", "unknown key"),
        ("id = \"x\"\nversion = \"1\"\nlibrary = \"/l.so\"\n[service]\ntype = \"t\"\nendpoint = \"nowhere\"", "service.endpoint", "URI"),
        ("id = \"x\"\nversion = \"1\"\nlibrary = \"/l.so\"\n[service]\ntype = \"t\"\nendpoint = \"tcp://h:1\"\nport = 1", "service.port", "unknown key"),
        ("id = \"x\"\nversion = \"1\"\nlibrary = \"/l.so\"\n[billing]\ndefault_plan = \"gold\"", "billing.default_plan", "no plan named \"gold\""),
        ("id = \"x\"\nversion = \"1\"\nlibrary = \"/l.so\"\n[billing.plans.p]\nperiod = \"monthly\"", "billing.plans.p.period", "such as \"30d\""),
        ("id = \"x\"\nversion = \"1\"\nlibrary = \"/l.so\"\n[billing]\ndefault_plan = \"p\"\n[billing.plans.p]\nperiod = \"1d\"\n[billing.plans.p.meters.m]\nprice = -1",
         "billing.plans.p.meters.m.price", "non-negative"),
        ("id = \"x\"\nversion = \"1\"\nlibrary = \"/l.so\"\n[billing]\ndefault_plan = \"p\"\n[billing.plans.p]\nperiod = \"1d\"\n[billing.plans.p.meters.m]\nprice = 0.0000001",
         "billing.plans.p.meters.m.price", "finer than the ledger's smallest amount"),
        ("id = \"x\"\nversion = \"1\"\nlibrary = \"/l.so\"\n[billing]\ndefault_plan = \"p\"\n[billing.plans.p]\nperiod = \"1d\"\n[billing.plans.p.meters.m]\nprice = 0.0000015",
         "billing.plans.p.meters.m.price", "0.000002 is the nearest"),
        ("id = \"x\"\nversion = \"1\"\nlibrary = \"/l.so\"\n[billing]\ndefault_plan = \"p\"\n[billing.plans.p]\nperiod = \"1d\"\n[billing.plans.p.meters.m]\nfree = 1\ncost = 2",
         "billing.plans.p.meters.m.cost", "unknown key"),
        ("id = \"x\"\nversion = 1.0\nlibrary = \"/l.so\"", "version", "expected a string, found floating-point number"),
    ])
    func eachMistakeNamesItsField(text: String, field: String, reason: String) throws {
        let error = try #require(failure(text))
        #expect(error.file == file && error.field == field)
        #expect(error.reason.contains(reason), "\(error)")
    }

    @Test func brokenTOMLSaysWhere() throws {
        let error = try #require(failure("id = \"x\"\nversion = \n"))
        #expect(error.field.isEmpty && error.reason.contains("line 2"), "\(error)")
    }

    @Test func theNodeConfigurationReadsAndChecksItsFields() throws {
        let node = try NodeConfiguration.parse("""
            data_dir = "data"
            listen = ["127.0.0.1:4000"]
            bootstrap = ["\(KeyPairId.sample)@127.0.0.1:4001"]
            allow_local = true
            admin = "127.0.0.1:4080"
            [rate_limits]
            outbound = 2000
            inbound_burst = 4096
            contact_inbound = 300
            """, file: "/srv/m/node.toml")
        #expect(node.dataDirectory == "/srv/m/data" && node.listen == [Endpoint("127.0.0.1:4000")!] && node.allowLocal)
        #expect(node.rateLimits == NodeConfiguration.RateLimits(inbound: 32, inboundBurst: 4096, contactInbound: 300, contactInboundBurst: 4096,
                                                                         outbound: 2000, outboundBurst: 1024))
        #expect(node.bootstrap.map(\.port) == [4001] && node.admin == Endpoint("127.0.0.1:4080")!)
        let defaults = try NodeConfiguration.parse("", file: "/srv/m/node.toml")
        #expect(defaults.listen.map(\.description) == ["0.0.0.0:39001", "[::]:39001"] && defaults.admin.description == "127.0.0.1:39080")
        for (text, field) in [("listen = [\"nowhere\"]", "listen[0]"), ("bootstrap = [\"\(KeyPairId.sample)@127.0.0.1:1\"]", "bootstrap[0]"),
                              ("admin = 5", "admin"), ("plugins = \"x\"", "plugins"),
                              ("[rate_limits]\noutbound = 0", "rate_limits.outbound"),
                              ("[rate_limits]\ncontact_inbound = 2000000", "rate_limits.contact_inbound"), ("[rate_limits]\nin = 5", "rate_limits.in"),
                              ("[rate_limits]\ninbound = \"fast\"", "rate_limits.inbound")] {
            #expect(throws: ManifestError.self) { try NodeConfiguration.parse(text, file: "n.toml") }
            do { _ = try NodeConfiguration.parse(text, file: "n.toml") } catch { #expect(error.field == field, "\(error)") }
        }
    }

    @Test func aFolderIsCheckedAsAWholeAndOrderedByDependencies() throws {
        let directory = NSTemporaryDirectory() + "carrier-manifests-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        func write(_ name: String, _ text: String) throws { try text.write(toFile: "\(directory)/\(name)", atomically: true, encoding: .utf8) }
        try write("node.toml", "listen = [\"127.0.0.1:0\"]\n")
        try write("a.toml", "id = \"a\"\nversion = \"1\"\nlibrary = \"/a.so\"\ndepends_on = [\"b\"]\n")
        try write("b.toml", "id = \"b\"\nversion = \"1\"\nlibrary = \"/b.so\"\n")
        try write("c.toml", "id = \"c\"\nversion = \"1\"\nlibrary = \"/c.so\"\nenabled = false\n")
        #expect(try ManifestSet.load(directory: directory).plugins.map(\.id) == ["b", "a", "c"])

        try write("b.toml", "id = \"b\"\nversion = \"1\"\nlibrary = \"/b.so\"\ndepends_on = [\"a\"]\n")
        #expect(throws: ManifestError.self) { try ManifestSet.load(directory: directory) }
        do { _ = try ManifestSet.load(directory: directory) } catch { #expect(error.reason.contains("cycle"), "\(error)") }

        try write("b.toml", "id = \"a\"\nversion = \"1\"\nlibrary = \"/b.so\"\n")
        do { _ = try ManifestSet.load(directory: directory) } catch { #expect(error.field == "id" && error.reason.contains("also the id"), "\(error)") }

        try write("b.toml", "id = \"b\"\nversion = \"1\"\nlibrary = \"/b.so\"\nenabled = false\n")
        do { _ = try ManifestSet.load(directory: directory) } catch { #expect(error.field == "depends_on[0]" && error.reason.contains("disabled"), "\(error)") }

        // At start each bad manifest costs only its own plugin, and those that depend on it.
        try write("b.toml", "id = \"b\"\nversion = \"1\"\nlibrary = \"/b.so\"\nabi = 2\n")
        try write("d.toml", "id = \"c\"\nversion = \"1\"\nlibrary = \"/d.so\"\n")
        try write("e.toml", "id = \"e\"\nversion = \"1\"\nlibrary = \"/e.so\"\n")
        try write("f.toml", "id = 7\n")
        let set = try ManifestSet.loadSkippingBroken(directory: directory)
        #expect(set.plugins.map(\.id) == ["e", "c"])
        #expect(set.rejected.map(\.id) == ["b", "f", "c", "a"])
        #expect(set.rejected.map(\.error.field) == ["abi", "id", "id", "depends_on[0]"])
        #expect(set.rejected[2].file == "\(directory)/d.toml" && set.rejected[2].error.reason.contains("also the id in \(directory)/c.toml"))
        #expect(set.rejected[3].error.reason == "\"b\" cannot run: \(directory)/b.toml: abi: this host speaks ABI major 1, not 2")
        #expect(throws: set.rejected[0].error) { try ManifestSet.load(directory: directory) }

        try FileManager.default.removeItem(atPath: "\(directory)/node.toml")
        do { _ = try ManifestSet.load(directory: directory) } catch { #expect(error.file.hasSuffix("node.toml"), "\(error)") }
    }
}

/// A fixed, valid node id for contact lines in tests.
enum KeyPairId {
    static let sample = "HZXXs9LTfNQjrDKvvexRhuMk8TTJhYCfrHwaj3jUzuhZ"
}
