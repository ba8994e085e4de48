import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
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

    /// `carrier run --manifests directory` as a child, with its standard output and error.
    private func startSupernode(_ directory: String) throws -> (process: Process, output: Pipe, errors: Pipe) {
        let supernode = Process()
        supernode.executableURL = URL(fileURLWithPath: CarrierBinary.path)
        supernode.arguments = ["run", "--manifests", directory]
        let output = Pipe(), errors = Pipe()
        supernode.standardOutput = output
        supernode.standardError = errors
        try supernode.run()
        return (supernode, output, errors)
    }

    @Test func checkDescribesALibraryOrSaysPreciselyWhyNot() async throws {
        let hello = try await CPlugins.helloC()
        let good = try await CarrierBinary.run(["plugins", "check", hello])
        #expect(good.status == 0 && good.standardOutput.contains("id: org.carrier.examples.hello-c"), "\(good.standardError)")
        #expect(good.standardOutput.contains("abi: 1.6") && good.standardOutput.contains("capabilities: service"))
        let crash = try await CarrierBinary.run(["plugins", "check", try await CPlugins.conformance("crash_in_entry")])
        #expect(crash.status == 1 && crash.standardError.contains("crashed the checker"), "\(crash.standardError)")
        let major = try await CarrierBinary.run(["plugins", "check", try await CPlugins.conformance("wrong_major")])
        #expect(major.status == 1 && major.standardError.contains("built for ABI major 2"), "\(major.standardError)")
    }

    /// Returns once process `pid` catches or ignores SIGHUP (its bit in `SigCgt` or `SigIgn` of
    /// /proc/PID/status); throws after 30 s.
    private func waitUntilHandlesHangups(_ pid: Int32) async throws {
        let bit = UInt64(1) << UInt64(SIGHUP - 1)
        for _ in 0..<3000 {
            let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
            let masks = status.split(separator: "\n").compactMap { line -> UInt64? in
                guard line.hasPrefix("SigCgt:") || line.hasPrefix("SigIgn:") else { return nil }
                return UInt64(line.split(separator: "\t").last ?? "", radix: 16)
            }
            if masks.contains(where: { $0 & bit != 0 }) { return }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw SupernodeTestFailure("process \(pid) did not handle SIGHUP within 30 s")
    }

    @Test func aSupernodeStopsInOrderOnSIGTERMAndASIGHUPDuringItsStartReloadsOnceStarted() async throws {
        let directory = try folder()
        try "data_dir = \"data\"\nlisten = [\"127.0.0.1:0\"]\nallow_local = true\nadmin = \"127.0.0.1:0\"\n"
            .write(toFile: "\(directory)/node.toml", atomically: true, encoding: .utf8)
        let (supernode, output, errors) = try startSupernode(directory)
        defer { if supernode.isRunning { supernode.terminate() } }
        // Once the process handles SIGHUP (before that, its default action ends any process), but
        // (most likely) before the supernode has started.
        try await waitUntilHandlesHangups(supernode.processIdentifier)
        kill(supernode.processIdentifier, SIGHUP)
        #expect(output.fileHandleForReading.availableLine().hasPrefix("Carrier supernode "))
        usleep(500_000)
        #expect(supernode.isRunning, "a SIGHUP is a reload, never the default exit")
        kill(supernode.processIdentifier, SIGTERM)
        await supernode.exited()
        #expect(supernode.terminationReason == .exit && supernode.terminationStatus == 0)
        let log = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(log.contains("manifests reloaded"), "\(log)")
        #expect(!log.contains("error"), "\(log)")
    }

    @Test func pinWritesTheHashAndCheckAgrees() async throws {
        let directory = try folder(), hello = try await CPlugins.helloC()
        let manifest = "\(directory)/hello.toml"
        try "# the example\nid = \"org.carrier.examples.hello-c\"\nversion = \"1.0.0\"\nlibrary = \"\(hello)\"\n[config]\nport = 0\n"
            .write(toFile: manifest, atomically: true, encoding: .utf8)
        // No pin: the host would refuse it, so check fails too, after saying what it found.
        let unpinned = try await CarrierBinary.run(["plugins", "check", manifest])
        #expect(unpinned.status == 1 && unpinned.standardOutput.contains("pin: missing"), "\(unpinned.standardOutput)")
        #expect(unpinned.standardError == "error: \(manifest) has no sha256: the host refuses it; run `carrier plugins pin \(manifest)`\n")
        let unpinnedJSON = try await CarrierBinary.run(["plugins", "check", manifest, "--json"])
        #expect(try unpinnedJSON.status == 1 && Self.object(unpinnedJSON.standardOutput)["pin"] as? String == "missing")

        let pinned = try await CarrierBinary.run(["plugins", "pin", manifest])
        #expect(pinned.status == 0, "\(pinned.standardError)")
        let hash = pinned.standardOutput.trimmingCharacters(in: .newlines)
        let text = try String(contentsOfFile: manifest, encoding: .utf8)
        #expect(text.hasPrefix("# the example\n") && text.contains("library = \"\(hello)\"\nsha256 = \"\(hash)\""))
        let good = try await CarrierBinary.run(["plugins", "check", manifest])
        #expect(good.status == 0 && good.standardOutput.contains("pin: ok") && good.standardError.isEmpty, "\(good.standardError)")
        let goodJSON = try Self.object(try await CarrierBinary.run(["plugins", "check", manifest, "--json"]).standardOutput)
        #expect(goodJSON["pin"] as? String == "ok" && goodJSON["sha256"] as? String == hash)

        let other = String(repeating: "0", count: 64)
        try text.replacingOccurrences(of: hash, with: other).write(toFile: manifest, atomically: true, encoding: .utf8)
        let mismatch = try await CarrierBinary.run(["plugins", "check", manifest, "--json"])
        let mismatchJSON = try Self.object(mismatch.standardOutput)
        #expect(mismatch.status == 1 && mismatchJSON["pin"] as? String == "mismatch" && mismatchJSON["pinned"] as? String == other)
        #expect(mismatch.standardError.contains("pins sha256 \(other), but the library has \(hash)"), "\(mismatch.standardError)")
    }

    @Test func checkTakesABareLibraryNameFromTheCurrentFolderAsTheHostWould() async throws {
        let hello = try await CPlugins.helloC()
        let folder = (hello as NSString).deletingLastPathComponent, name = (hello as NSString).lastPathComponent
        let bare = try await CarrierBinary.run(["plugins", "check", name], in: folder)
        #expect(bare.status == 0 && bare.standardOutput.contains("id: org.carrier.examples.hello-c"), "\(bare.standardError)")
        // A name that only the loader path has is not searched for there.
        let elsewhere = try await CarrierBinary.run(["plugins", "check", "libc.so.6"], in: folder)
        #expect(elsewhere.status == 1 && elsewhere.standardError.contains("\(folder)/libc.so.6 does not exist"), "\(elsewhere.standardError)")
    }

    @Test func checkNamesTheManifestOnceInItsErrors() async throws {
        let manifest = "\(try folder())/future.toml"
        try "id = \"x\"\nversion = \"1\"\nlibrary = \"libx.so\"\nabi = 2\n".write(toFile: manifest, atomically: true, encoding: .utf8)
        let refused = try await CarrierBinary.run(["plugins", "check", manifest])
        #expect(refused.status == 1 && refused.standardError == "error: \(manifest): abi: this host speaks ABI major 1, not 2\n", "\(refused.standardError)")
    }

    @Test func everyHelpTextReadsCleanly() async throws {
        // Every command's --help, found from the top one's subcommand lists.
        var pending: [[String]] = [[]], seen = 0
        while let command = pending.popLast() {
            let help = try await CarrierBinary.run(command + ["--help"])
            #expect(help.status == 0, "\(command)")
            seen += 1
            for line in help.standardOutput.split(separator: "\n", omittingEmptySubsequences: false) {
                #expect(!line.hasSuffix("\\") && !line.contains("\\ "), "carrier \(command.joined(separator: " ")) --help: \(line)")
            }
            guard let list = help.standardOutput.components(separatedBy: "SUBCOMMANDS:\n").dropFirst().first else { continue }
            for line in list.split(separator: "\n", omittingEmptySubsequences: false) {
                guard line.hasPrefix("  ") else { break }
                // A name starts in the third column; deeper lines continue an abstract.
                guard line.dropFirst(2).first != " ", let name = line.split(separator: " ").first else { continue }
                pending.append(command + [String(name)])
            }
        }
        #expect(seen > 20, "every subcommand was reached")
    }

    private static func object(_ json: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any], "\(json)")
    }

    @Test func aBrokenPluginManifestAtStartFailsOnlyThatPluginButABrokenNodeTomlRefusesToStart() async throws {
        let directory = try folder(), hello = try await CPlugins.helloC()
        try "data_dir = \"data\"\nlisten = [\"127.0.0.1:0\"]\nallow_local = true\nadmin = \"127.0.0.1:0\"\n".write(toFile: "\(directory)/node.toml", atomically: true, encoding: .utf8)
        try "id = \"org.carrier.examples.hello-c\"\nversion = \"1.0.0\"\nlibrary = \"\(hello)\"\n[config]\nport = 0\n"
            .write(toFile: "\(directory)/hello.toml", atomically: true, encoding: .utf8)
        #expect(try await CarrierBinary.run(["plugins", "pin", "\(directory)/hello.toml"]).status == 0)
        try "id = \"org.example.future\"\nversion = \"1\"\nlibrary = \"libfuture.so\"\nabi = 2\n".write(toFile: "\(directory)/future.toml", atomically: true, encoding: .utf8)
        let reason = "\(directory)/future.toml: abi: this host speaks ABI major 1, not 2"

        let (supernode, output, errors) = try startSupernode(directory)
        defer { if supernode.isRunning { supernode.terminate() } }
        #expect(output.fileHandleForReading.availableLine().hasPrefix("Carrier supernode "))
        let contact = output.fileHandleForReading.availableLine().replacingOccurrences(of: "contact: ", with: "")
        _ = output.fileHandleForReading.availableLine()  // data directory
        let admin = output.fileHandleForReading.availableLine().replacingOccurrences(of: "admin: http://", with: "")
            .replacingOccurrences(of: "/status", with: "")
        #expect(output.fileHandleForReading.availableLine() == "plugin org.carrier.examples.hello-c: running")
        #expect(output.fileHandleForReading.availableLine() == "plugin org.example.future: failed (\(reason))")

        let list = try await CarrierBinary.run(["plugins", "list", "--admin", admin]).standardOutput
        #expect(list.contains("org.example.future  failed  in-process  error: \(reason)"), "\(list)")
        #expect(list.contains("org.carrier.examples.hello-c  running"), "\(list)")
        #expect(try await HTTP.get("http://\(admin)/status").contains("\"failed\":1"))
        let client = ["--bootstrap", contact, "--allow-local", "--data-dir", "\(directory)/client"]
        let found = try await CarrierBinary.run(["services", "find", "hello"] + client)
        #expect(found.status == 0 && found.standardOutput.contains("org.carrier.examples.hello-c"), "the DHT and the other plugin serve: \(found.standardError)")
        supernode.interrupt()
        await supernode.exited()
        #expect(supernode.terminationStatus == 0)
        let log = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(log.contains(" error carrier.host: error=\(reason) plugin=org.example.future"), "\(log)")

        try "data_dir = \"data\"\nlisten = 5\n".write(toFile: "\(directory)/node.toml", atomically: true, encoding: .utf8)
        let refused = try await CarrierBinary.run(["run", "--manifests", directory])
        #expect(refused.status == 1 && refused.standardError.contains("node.toml: listen: expected an array of strings"), "\(refused.standardError)")
    }

    @Test func aSupernodeRunsItsPluginsIsFoundAndReloadsOnSIGHUP() async throws {
        let directory = try folder(), hello = try await CPlugins.helloC()
        try "data_dir = \"data\"\nlisten = [\"127.0.0.1:0\"]\nallow_local = true\nadmin = \"127.0.0.1:0\"\n".write(toFile: "\(directory)/node.toml", atomically: true, encoding: .utf8)
        let manifest = "\(directory)/hello.toml"
        let body = "id = \"org.carrier.examples.hello-c\"\nversion = \"1.0.0\"\nlibrary = \"\(hello)\"\n[config]\nport = 0\n"
        try ("enabled = true\n" + body).write(toFile: manifest, atomically: true, encoding: .utf8)
        #expect(try await CarrierBinary.run(["plugins", "pin", manifest]).status == 0)

        let (supernode, output, _) = try startSupernode(directory)
        defer { if supernode.isRunning { supernode.terminate() } }
        #expect(output.fileHandleForReading.availableLine().hasPrefix("Carrier supernode "))
        let contact = output.fileHandleForReading.availableLine().replacingOccurrences(of: "contact: ", with: "")
        #expect(contact.contains("@127.0.0.1:"))
        _ = output.fileHandleForReading.availableLine()  // data directory
        let admin = output.fileHandleForReading.availableLine().replacingOccurrences(of: "admin: http://", with: "")
            .replacingOccurrences(of: "/status", with: "")
        #expect(output.fileHandleForReading.availableLine() == "plugin org.carrier.examples.hello-c: running")

        // The operator's view: the admin endpoint, through the CLI and directly.
        let list = try await CarrierBinary.run(["plugins", "list", "--admin", admin])
        #expect(list.standardOutput.contains("org.carrier.examples.hello-c  running  in-process  v1.0.0  health: ok (listening on port"),
                "\(list.standardOutput)\(list.standardError)")
        let metrics = try await CarrierBinary.run(["plugins", "list", "--admin", admin, "--json"])
        #expect(metrics.standardOutput.hasPrefix("[{") && metrics.standardOutput.contains("\"state\":\"running\""))
        let prometheus = try await HTTP.get("http://\(admin)/metrics")
        #expect(prometheus.contains("carrier_dht_requests_answered_total ") && prometheus.contains("carrier_plugins{state=\"running\"} 1"))
        #expect(try await HTTP.get("http://\(admin)/status").contains("\"contacts\":{\"ipv4\":"))
        #expect(try await CarrierBinary.run(["plugins", "list", "--admin", "127.0.0.1:1"]).standardError.contains("cannot reach the admin endpoint"))

        let client = ["--bootstrap", contact, "--allow-local", "--data-dir", "\(directory)/client"]
        let found = try await CarrierBinary.run(["services", "find", "hello", "--json"] + client)
        #expect(found.status == 0 && found.standardOutput.contains("\"plugin\":\"org.carrier.examples.hello-c\""), "\(found.standardError)")
        #expect(found.standardOutput.contains("\"endpoint\":\"tcp://127.0.0.1:"))

        // Disable the plugin and reload: its offer is withdrawn.
        var text = try String(contentsOfFile: manifest, encoding: .utf8)
        text = text.replacingOccurrences(of: "enabled = true", with: "enabled = false")
        try text.write(toFile: manifest, atomically: true, encoding: .utf8)
        kill(supernode.processIdentifier, SIGHUP)
        let withdrawn = await eventually {
            (try? await CarrierBinary.run(["services", "find", "hello"] + client))?.standardError.contains("no provider of \"hello\" found") == true
        }
        #expect(withdrawn)
        // Finders may see the offer gone before the host has finished stopping it (`stopping` meanwhile).
        let disabled = await eventually {
            (try? await CarrierBinary.run(["plugins", "list", "--admin", admin]))?.standardOutput.contains("org.carrier.examples.hello-c  disabled") == true
        }
        #expect(disabled)

        // A broken manifest is refused by a reload, with file and field, and nothing changes.
        try ("colour = \"blue\"\n" + text).write(toFile: manifest, atomically: true, encoding: .utf8)
        let refused = try await CarrierBinary.run(["plugins", "reload", "--admin", admin])
        #expect(refused.status == 1 && refused.standardError.contains("hello.toml: colour: unknown key"), "\(refused.standardError)")
        supernode.interrupt()
        await supernode.exited()
        #expect(supernode.terminationStatus == 0)
    }
}

/// An HTTP GET for the tests.
enum HTTP {
    static func get(_ url: String) async throws -> String {
        let (data, _) = try await URLSession.shared.data(from: URL(string: url)!)
        return String(decoding: data, as: UTF8.self)
    }
}

/// A supernode under test did not get where the test needs it.
struct SupernodeTestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
