import CarrierCore
import Foundation
import Testing
import TestSupport

/// The `carrier` executable as a user runs it.
struct CarrierCommandTests {
    private func temporaryDataDirectory() -> String {
        NSTemporaryDirectory() + "carrier-cli-\(UUID().uuidString)"
    }

    /// `carrier testnet --nodes N --base-port 0` as a child, with its standard output and error.
    private func startTestnet(nodes: Int, directory: String) throws -> (process: Process, output: Pipe, progress: Pipe) {
        let testnet = Process()
        testnet.executableURL = URL(fileURLWithPath: CarrierBinary.path)
        testnet.arguments = ["testnet", "--nodes", "\(nodes)", "--base-port", "0", "--data-dir", directory]
        let output = Pipe(), progress = Pipe()
        testnet.standardOutput = output
        testnet.standardError = progress
        try testnet.run()
        return (testnet, output, progress)
    }

    @Test func helpListsTheCommands() async throws {
        let result = try await CarrierBinary.run(["--help"])
        #expect(result.status == 0)
        for command in ["id", "run", "dht", "testnet", "wire"] { #expect(result.standardOutput.contains("  \(command) ")) }
    }

    @Test func idIsCreatedOnceAndStable() async throws {
        let directory = temporaryDataDirectory()
        let first = try await CarrierBinary.run(["id", "--data-dir", directory])
        #expect(first.status == 0)
        let id = first.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(Id(base58: id) != nil)
        #expect(try await CarrierBinary.run(["id", "--data-dir", directory]).standardOutput.trimmingCharacters(in: .whitespacesAndNewlines) == id)
        let json = try await CarrierBinary.run(["id", "--json", "--data-dir", directory]).standardOutput
        #expect(json == #"{"id":"\#(id)","hex":"\#(Id(base58: id)!.hex)","created":false}"# + "\n")
        chmod(directory + "/identity.key", 0o640)
        let refused = try await CarrierBinary.run(["id", "--data-dir", directory])
        #expect(refused.status == 1)
        #expect(refused.standardError.hasPrefix("error: ") && refused.standardError.contains("chmod 600"))
    }

    @Test func wireDecodeAndEncodeAgreeWithTheReference() async throws {
        let decoded = try await CarrierBinary.run(["wire", "decode", "bf6179182161740a61761a4f520001ff"])
        #expect(decoded.status == 0)
        #expect(decoded.standardOutput == "{\"y\":33,\"t\":10,\"v\":1330774017}\n")
        let encoded = try await CarrierBinary.run(["wire", "encode", "{\"y\":33,\"t\":10,\"v\":1330774017}"])
        #expect(encoded.standardOutput == "bf6179182161740a61761a4f520001ff\n")
        let fromStandardInput = try await CarrierBinary.run(["wire", "decode", "-"], standardInput: "bf6179182161740a61761a4f520001ff\n")
        #expect(fromStandardInput.standardOutput == decoded.standardOutput)
        let spacedAndPrefixed = try await CarrierBinary.run(["wire", "decode", "0xbf6179", "182161740a61761a4f520001ff"])
        #expect(spacedAndPrefixed.standardOutput == decoded.standardOutput)
    }

    @Test(.enabled(if: SharedVectors.available, SharedVectors.skipReason))
    func wireAgreesOnEveryReferenceVector() async throws {
        for vector in try SharedVectors.load() {
            #expect(try await CarrierBinary.run(["wire", "decode", vector.cbor]).standardOutput == vector.json + "\n")
            #expect(try await CarrierBinary.run(["wire", "encode", vector.json]).standardOutput == vector.cbor + "\n")
        }
    }

    @Test(arguments: [
        (["wire", "decode", "zz"], "not hex"),
        (["wire", "decode", "bf61"], "CBOR: truncated"),
        (["wire", "decode", "bf6179182161740a61761a4f520001ff00"], "trailing"),
        (["wire", "decode", "bf6171bfff61791822617401ff"], "field y: must come before"),
        (["wire", "encode", "{\"y\":34,\"t\":1,\"q\":{\"w\":1}}"], "field q.t: missing"),
        (["wire", "encode", "{\"y\":33,"], "JSON:"),
    ])
    func malformedInputExitsOneWithOneLine(arguments: [String], expected: String) async throws {
        let result = try await CarrierBinary.run(arguments)
        #expect(result.status == 1)
        #expect(result.standardOutput.isEmpty)
        #expect(result.standardError.hasPrefix("error: "))
        #expect(result.standardError.contains(expected), "\(result.standardError)")
        #expect(result.standardError.filter { $0 == "\n" }.count == 1, "one line")
    }

    @Test func simulateReportsEveryChurnLevelAsJSON() async throws {
        let result = try await CarrierBinary.run(["dht", "simulate", "--nodes", "120", "--lookups", "10", "--values", "5", "--churn", "0,0.2", "--json"])
        #expect(result.status == 0)
        let rows = try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [[String: Any]]
        #expect(rows?.count == 2)
        #expect(rows?.map { $0["churn"] as? Double } == [0, 0.2])
        #expect((rows?.first?["kClosestFound"] as? Double ?? 0) > 0.5)
        #expect(result.standardError.contains("nodes joined"), "progress goes to standard error")
        let refused = try await CarrierBinary.run(["dht", "simulate", "--churn", "2"])
        #expect(refused.status != 0 && refused.standardError.contains("--churn"))
    }

    @Test func aNewcomerPutsAndGetsThroughATestnet() async throws {
        let directory = temporaryDataDirectory()
        let (testnet, output, _) = try startTestnet(nodes: 12, directory: directory + "/testnet")
        defer { if testnet.isRunning { testnet.terminate() } }
        let bootstrap = output.fileHandleForReading.availableLine()
        #expect(bootstrap.contains("@127.0.0.1:"))
        let client = ["--bootstrap", bootstrap, "--allow-local", "--data-dir", directory + "/client"]
        let put = try await CarrierBinary.run(["dht", "put", "hello"] + client)
        #expect(put.status == 0, "\(put.standardError)")
        let id = put.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try await CarrierBinary.run(["dht", "get", id] + client).standardOutput == "hello\n")
        let signed = try await CarrierBinary.run(["dht", "put", "v7", "--signed", "--seq", "7", "--json"] + client)
        #expect(signed.standardOutput.contains("\"storedOn\":"), "\(signed.standardError)")
        let owner = try await CarrierBinary.run(["id", "--data-dir", directory + "/client"]).standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try await CarrierBinary.run(["dht", "get", owner] + client).standardOutput == "v7\n")
        #expect(try await CarrierBinary.run(["dht", "announce", "--endpoint", "tcp://127.0.0.1:7000"] + client).status == 0)
        #expect(try await CarrierBinary.run(["dht", "find-peer", owner] + client).standardOutput.contains("tcp://127.0.0.1:7000"))
        // The fingerprint is drawn once per data directory and kept: a re-announcement with a
        // higher seq replaces the record instead of adding one beside it.
        let fingerprintFile = directory + "/client/peer.fingerprint"
        let fingerprint = try String(contentsOfFile: fingerprintFile, encoding: .utf8)
        #expect(Int64(fingerprint.trimmingCharacters(in: .whitespacesAndNewlines)) != nil)
        #expect(fingerprint != "1\n", "not the constant 1")
        #expect(try await CarrierBinary.run(["dht", "announce", "--endpoint", "tcp://127.0.0.1:7001", "--seq", "1"] + client).status == 0)
        #expect(try String(contentsOfFile: fingerprintFile, encoding: .utf8) == fingerprint)
        #expect(try await CarrierBinary.run(["dht", "find-peer", owner] + client).standardOutput == "tcp://127.0.0.1:7001 (seq 1)\n")
        let missing = try await CarrierBinary.run(["dht", "get", Id.random().base58] + client)
        #expect(missing.status == 2 && missing.standardError.contains("not found"), "exit 2: not found")
        let nobody = "\(Id.random().base58)@127.0.0.1:9"
        let cutOff = try await CarrierBinary.run(["dht", "get", id, "--bootstrap", nobody, "--allow-local", "--data-dir", directory + "/client"])
        #expect(cutOff.status == 4 && cutOff.standardError.contains("no bootstrap node answered"), "exit 4: unreachable, not 'not found'")
        let local = try await CarrierBinary.run(["dht", "get", id, "--bootstrap", bootstrap])
        #expect(local.status == 1 && local.standardError.contains("--allow-local"))
        testnet.interrupt()
        await testnet.exited()
        #expect(testnet.terminationStatus == 0)
    }

    @Test func aTestnetComesUpInSecondsAlsoOnTheRoutingTablesOfItsLastRun() async throws {
        let directory = temporaryDataDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // The second run finds the first one's routing tables, whose contacts are at ports no node
        // has now (--base-port 0): each cost a lookup its timeout, 40 s in all for 16 nodes.
        for run in 1...2 {
            let started = ContinuousClock.now
            let (testnet, output, progress) = try startTestnet(nodes: 16, directory: directory)
            defer { if testnet.isRunning { testnet.terminate() } }
            let bootstrap = output.fileHandleForReading.availableLine()
            let elapsed = ContinuousClock.now - started
            #expect(bootstrap.contains("@127.0.0.1:") && elapsed < .seconds(15), "run \(run): \(bootstrap) after \(elapsed)")
            testnet.interrupt()
            await testnet.exited()
            #expect(testnet.terminationStatus == 0)
            #expect(output.fileHandleForReading.readDataToEndOfFile().isEmpty, "the bootstrap line is all of standard output")
            let log = String(decoding: progress.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            #expect(log.contains("16/16 nodes joined\n16 nodes running on 127.0.0.1"), "progress goes to standard error: \(log)")
        }
    }

    @Test func aTestnetStopsOnCtrlCWhileItsNodesJoin() async throws {
        let directory = temporaryDataDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (testnet, output, progress) = try startTestnet(nodes: 200, directory: directory)
        defer { if testnet.isRunning { testnet.terminate() } }
        // 200 nodes take seconds to join; the first progress line says they have begun.
        #expect(progress.fileHandleForReading.availableLine().hasSuffix("/200 nodes joined"))
        let interrupted = ContinuousClock.now
        testnet.interrupt()
        await testnet.exited()
        #expect(ContinuousClock.now - interrupted < .seconds(3), "Ctrl-C is heard at once")
        #expect(testnet.terminationStatus == 0)
        #expect(output.fileHandleForReading.readDataToEndOfFile().isEmpty, "no bootstrap line for a network that did not come up")
    }

    @Test func runPrintsTheIdentityAndBothSocketsAndStopsOnSIGINT() async throws {
        let directory = temporaryDataDirectory()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CarrierBinary.path)
        process.arguments = ["run", "--listen", "127.0.0.1:0", "--listen", "[::1]:0", "--allow-local", "--data-dir", directory]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = Pipe()
        try process.run()
        let firstLine = output.fileHandleForReading.availableLine()
        #expect(firstLine.hasPrefix("Carrier node "))
        let id = try await CarrierBinary.run(["id", "--data-dir", directory]).standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(firstLine == "Carrier node \(id)")
        #expect(output.fileHandleForReading.availableLine().hasPrefix("contact: \(id)@127.0.0.1:"))
        #expect(output.fileHandleForReading.availableLine().hasPrefix("contact: \(id)@[::1]:"))
        process.interrupt()
        await process.exited()
        #expect(process.terminationStatus == 0)
    }
}

extension FileHandle {
    /// Reads until the first newline (blocking), without the newline.
    func availableLine() -> String {
        var bytes: [UInt8] = []
        while let chunk = try? read(upToCount: 1), let byte = chunk.first, byte != UInt8(ascii: "\n") { bytes.append(byte) }
        return String(decoding: bytes, as: UTF8.self)
    }
}
