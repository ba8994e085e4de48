import Foundation
import TestSupport
import Testing

/// `carrier run --manifests`, `carrier plugins check|pin` and `carrier services find`, as an
/// operator and a regular node use them, with the hello-c example built from source.
@Suite(.serialized)
struct SupernodeCommandTests {
    private func folder() throws -> String {
        let path = NSTemporaryDirectory() + "carrier-supernode-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test func checkDescribesALibraryOrSaysPreciselyWhyNot() throws {
        let hello = try CPlugins.helloC()
        let good = try CarrierBinary.run(["plugins", "check", hello])
        #expect(good.status == 0 && good.standardOutput.contains("id: org.carrier.examples.hello-c"), "\(good.standardError)")
        #expect(good.standardOutput.contains("abi: 1.0") && good.standardOutput.contains("capabilities: service"))
        let crash = try CarrierBinary.run(["plugins", "check", try CPlugins.conformance("crash_in_entry")])
        #expect(crash.status == 1 && crash.standardError.contains("crashed the checker"), "\(crash.standardError)")
        let major = try CarrierBinary.run(["plugins", "check", try CPlugins.conformance("wrong_major")])
        #expect(major.status == 1 && major.standardError.contains("built for ABI major 2"), "\(major.standardError)")
    }

    @Test func pinWritesTheHashAndCheckAgrees() throws {
        let directory = try folder(), hello = try CPlugins.helloC()
        let manifest = "\(directory)/hello.toml"
        try "# the example\nid = \"org.carrier.examples.hello-c\"\nversion = \"1.0.0\"\nlibrary = \"\(hello)\"\n[config]\nport = 0\n"
            .write(toFile: manifest, atomically: true, encoding: .utf8)
        #expect(try CarrierBinary.run(["plugins", "check", manifest]).standardOutput.contains("pin: not pinned"))
        let pinned = try CarrierBinary.run(["plugins", "pin", manifest])
        #expect(pinned.status == 0, "\(pinned.standardError)")
        let text = try String(contentsOfFile: manifest, encoding: .utf8)
        #expect(text.hasPrefix("# the example\n") && text.contains("library = \"\(hello)\"\nsha256 = \"\(pinned.standardOutput.trimmingCharacters(in: .newlines))\""))
        #expect(try CarrierBinary.run(["plugins", "check", manifest]).standardOutput.contains("pin: matches"))
    }

    @Test func aSupernodeRunsItsPluginsIsFoundAndReloadsOnSIGHUP() throws {
        let directory = try folder(), hello = try CPlugins.helloC()
        try "data_dir = \"data\"\nlisten = [\"127.0.0.1:0\"]\nallow_local = true\n".write(toFile: "\(directory)/node.toml", atomically: true, encoding: .utf8)
        let manifest = "\(directory)/hello.toml"
        let body = "id = \"org.carrier.examples.hello-c\"\nversion = \"1.0.0\"\nlibrary = \"\(hello)\"\n[config]\nport = 0\n"
        try ("enabled = true\n" + body).write(toFile: manifest, atomically: true, encoding: .utf8)
        #expect(try CarrierBinary.run(["plugins", "pin", manifest]).status == 0)

        let supernode = Process()
        supernode.executableURL = URL(fileURLWithPath: CarrierBinary.path)
        supernode.arguments = ["run", "--manifests", directory]
        let output = Pipe()
        supernode.standardOutput = output
        supernode.standardError = Pipe()
        try supernode.run()
        defer { if supernode.isRunning { supernode.terminate() } }
        #expect(output.fileHandleForReading.availableLine().hasPrefix("Carrier supernode "))
        let contact = output.fileHandleForReading.availableLine().replacingOccurrences(of: "contact: ", with: "")
        #expect(contact.contains("@127.0.0.1:"))
        _ = output.fileHandleForReading.availableLine()  // data directory
        #expect(output.fileHandleForReading.availableLine() == "plugin org.carrier.examples.hello-c: running")

        let client = ["--bootstrap", contact, "--allow-local", "--data-dir", "\(directory)/client"]
        let found = try CarrierBinary.run(["services", "find", "hello", "--json"] + client)
        #expect(found.status == 0 && found.standardOutput.contains("\"plugin\":\"org.carrier.examples.hello-c\""), "\(found.standardError)")
        #expect(found.standardOutput.contains("\"endpoint\":\"tcp://127.0.0.1:"))

        // Disable the plugin and reload: its offer is withdrawn.
        var text = try String(contentsOfFile: manifest, encoding: .utf8)
        text = text.replacingOccurrences(of: "enabled = true", with: "enabled = false")
        try text.write(toFile: manifest, atomically: true, encoding: .utf8)
        kill(supernode.processIdentifier, SIGHUP)
        var withdrawn = false
        for _ in 0..<50 where !withdrawn {
            Thread.sleep(forTimeInterval: 0.1)
            withdrawn = try CarrierBinary.run(["services", "find", "hello"] + client).standardError.contains("no provider of \"hello\" found")
        }
        #expect(withdrawn)
        supernode.interrupt()
        supernode.waitUntilExit()
        #expect(supernode.terminationStatus == 0)
    }
}
