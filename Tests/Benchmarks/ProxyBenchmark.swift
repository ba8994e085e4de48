import CarrierCore
import CarrierHost
import Foundation
import TestSupport
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The proxy plugin under `wrk`, next to OpenDHT's own proxy (`dhtnode --proxyserver`) in the
/// same run, each a real process with one DHT peer on 127.0.0.1: cached GETs of a value
/// (`/v1/values/{id}`, and `/key/{hash}` on both), then POSTs of new values at random keys over
/// three consecutive rounds, where OpenDHT's proxy is known to slow down as it accumulates puts.
enum ProxyBenchmark {
    /// One `wrk` run.
    struct Load {
        /// Answers per second, errors included (as wrk reports it).
        let requestsPerSecond: Double
        /// 2xx answers per second.
        let successesPerSecond: Double
        let p50Milliseconds: Double
        let p99Milliseconds: Double
        let errors: Int
    }

    /// Every row of the table.
    struct Figures {
        let carrierValue: Load
        let carrierKey: Load
        let openDHTKey: Load?
        let carrierPosts: [Load]
        /// The POST rounds with the DHT's per-source rate limits raised on both Carrier nodes.
        let raisedPosts: [Load]
        let openDHTPosts: [Load]
        let openDHTNote: String?
        let fanOut: FanOutBenchmark.Figures
    }

    static let connections = 32
    static let threads = 2

    static func run(seconds: Int) async throws -> Figures {
        raiseDescriptorLimit()
        let scratch = NSTemporaryDirectory() + "carrier-proxy-bench-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let postScript = try writePostScript(in: scratch)

        // Carrier with the DHT's default rate limits: the GETs, then the POST rounds.
        let base = "http://127.0.0.1:39712"
        var carrier = try await CarrierPair.start(in: "\(scratch)/default", limits: nil)
        let light = KeyPair.random()
        let value = Value.signed(by: light, sequenceNumber: 1, data: Array("a value for the benchmark".utf8))
        _ = try await post(base + "/v1/values", value.json)
        let key = Hex.encode(Sodium.randomBytes(20))
        _ = try await post(base + "/key/\(key)", #"{"data":"aGVsbG8=","id":"0","type":0}"#)
        let carrierValue = try wrk(base + "/v1/values/\(light.publicKey.base58)", seconds: seconds)
        let carrierKey = try wrk(base + "/key/\(key)", seconds: seconds)
        let fanOut = try await FanOutBenchmark.run(port: 39712)
        var carrierPosts: [Load] = []
        for _ in 0..<3 { carrierPosts.append(try wrk(base, script: postScript, seconds: seconds)) }
        carrier.stop()

        // The same POST rounds with both nodes' per-source limits raised out of the way
        // (node.toml's [rate_limits]): what the proxy itself can do.
        carrier = try await CarrierPair.start(in: "\(scratch)/raised", limits: CarrierPair.raisedLimits)
        var raisedPosts: [Load] = []
        for _ in 0..<3 { raisedPosts.append(try wrk(base, script: postScript, seconds: seconds)) }
        carrier.stop()

        // OpenDHT: dhtnode --proxyserver with one dhtnode peer.
        var openDHTKey: Load?
        var openDHTPosts: [Load] = []
        var note: String?
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/dhtnode") {
            let openPeer = try ChildProcess.start("/usr/bin/dhtnode", ["-p", "39721"])
            defer { openPeer.stop() }
            let proxy = try ChildProcess.start("/usr/bin/dhtnode", ["-p", "39722", "-b", "127.0.0.1:39721", "--proxyserver", "39723"])
            defer { proxy.stop() }
            let openBase = "http://127.0.0.1:39723"
            try await Task.sleep(for: .seconds(2))
            let openKey = Hex.encode(Sodium.randomBytes(20))
            _ = try await post(openBase + "/key/\(openKey)", #"{"data":"aGVsbG8=","id":"0","type":0}"#)
            openDHTKey = try wrk(openBase + "/key/\(openKey)", seconds: seconds)
            for _ in 0..<3 { openDHTPosts.append(try wrk(openBase, script: postScript, seconds: seconds)) }
        } else {
            note = "OpenDHT's proxy not measured: /usr/bin/dhtnode is missing (make bench installs it)"
        }
        return Figures(carrierValue: carrierValue, carrierKey: carrierKey, openDHTKey: openDHTKey, carrierPosts: carrierPosts,
                       raisedPosts: raisedPosts, openDHTPosts: openDHTPosts, openDHTNote: note, fanOut: fanOut)
    }

    /// Our side: a supernode with the proxy in process on port 39712, and a plain node (a
    /// supernode without plugins) as its one DHT peer; `limits` is a `[rate_limits]` section for
    /// both node.toml files, nil for the defaults.
    struct CarrierPair {
        static let raisedLimits = """
            [rate_limits]
            inbound = 1000000
            inbound_burst = 1000000
            contact_inbound = 1000000
            contact_inbound_burst = 1000000
            outbound = 1000000
            outbound_burst = 1000000

            """

        let peer: ChildProcess
        let supernode: ChildProcess

        static func start(in folder: String, limits: String?) async throws -> CarrierPair {
            let peerFolder = "\(folder)/peer", superFolder = "\(folder)/supernode"
            for path in [peerFolder, superFolder] { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
            try """
                data_dir = "\(peerFolder)/data"
                listen = ["127.0.0.1:39711"]
                allow_local = true
                admin = "127.0.0.1:39718"
                \(limits ?? "")
                """.write(toFile: "\(peerFolder)/node.toml", atomically: true, encoding: .utf8)
            let peer = try ChildProcess.start(HostBenchmark.carrier, ["run", "--manifests", peerFolder])
            let line = try await peer.waitForLine { $0.contains("@127.0.0.1:39711") }
            guard let contact = line.split(separator: " ").first(where: { $0.contains("@127.0.0.1:39711") }).map(String.init) else {
                peer.stop()
                throw BenchmarkError("no contact line from the peer: \(line)")
            }
            let library = HostBenchmark.buildFolder.appendingPathComponent("libProxyPlugin.so").path
            guard let hash = PluginLibrary.sha256(ofFile: library) else {
                peer.stop()
                throw BenchmarkError("\(library) is missing (make bench builds it)")
            }
            try """
                data_dir = "\(superFolder)/data"
                listen = ["127.0.0.1:39710"]
                bootstrap = ["\(contact)"]
                allow_local = true
                admin = "127.0.0.1:39719"
                \(limits ?? "")
                """.write(toFile: "\(superFolder)/node.toml", atomically: true, encoding: .utf8)
            try """
                id = "org.carrier.proxy"
                version = "0.2.0"
                library = "\(library)"
                sha256 = "\(hash)"
                isolation = "in-process"
                [config]
                host = "127.0.0.1"
                port = 39712
                # wrk's connections all come from 127.0.0.1, anonymously: limits out of the way.
                anonymous = true
                anonymousRate = 1000000
                addressRate = 1000000
                connectionsPerSource = 5000
                """.write(toFile: "\(superFolder)/proxy.toml", atomically: true, encoding: .utf8)
            let supernode = try ChildProcess.start(HostBenchmark.carrier, ["run", "--manifests", superFolder])
            let pair = CarrierPair(peer: peer, supernode: supernode)
            guard await waitUntilHealthy("http://127.0.0.1:39712/v1/health") else {
                pair.stop()
                throw BenchmarkError("the Carrier proxy did not become healthy")
            }
            return pair
        }

        func stop() {
            supernode.stop()
            peer.stop()
        }
    }

    /// 1,000 WebSocket clients and as many server connections need more descriptors than a
    /// default soft limit of 1,024: raise it to the hard limit (the servers started after inherit it).
    private static func raiseDescriptorLimit() {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
        limit.rlim_cur = limit.rlim_max
        _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    }

    /// A wrk script that POSTs a small value at a fresh random key on every request.
    private static func writePostScript(in scratch: String) throws -> String {
        let path = "\(scratch)/post.lua"
        try """
            local hex = "0123456789abcdef"
            function init(args)
              math.randomseed(os.time() + math.floor(os.clock() * 1000000) + tonumber(tostring({}):sub(8), 16))
            end
            function request()
              local key = {}
              for i = 1, 40 do
                local n = math.random(1, 16)
                key[i] = hex:sub(n, n)
              end
              return wrk.format("POST", "/key/" .. table.concat(key), {["Content-Type"] = "application/json"},
                                '{"data":"aGVsbG8=","id":"0","type":0}')
            end
            """.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    private static func waitUntilHealthy(_ url: String) async -> Bool {
        for _ in 0..<100 {
            if let (_, response) = try? await URLSession.shared.data(from: URL(string: url)!), (response as? HTTPURLResponse)?.statusCode == 200 {
                return true
            }
            try? await Task.sleep(for: .milliseconds(200))
        }
        return false
    }

    private static func post(_ url: String, _ body: String) async throws -> Int {
        var request = URLRequest(url: URL(string: url)!)
        request.httpMethod = "POST"
        request.httpBody = Data(body.utf8)
        let (_, response) = try await URLSession.shared.data(for: request)
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        guard status == 200 else { throw BenchmarkError("POST \(url) answered \(status)") }
        return status
    }

    /// Runs `wrk` and reads its requests/s, latency percentiles and errors (non-2xx answers,
    /// timeouts, socket errors).
    static func wrk(_ url: String, script: String? = nil, seconds: Int) throws -> Load {
        var arguments = ["-t\(threads)", "-c\(connections)", "-d\(seconds)s", "--latency"]
        if let script { arguments += ["-s", script] }
        let run = try ChildProcess.output("/usr/bin/wrk", arguments + [url])
        func number(after label: String) -> Double? {
            guard let line = run.split(separator: "\n").first(where: { $0.trimmingCharacters(in: .whitespaces).hasPrefix(label) }) else { return nil }
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 2 else { return nil }
            return milliseconds(String(fields[1])) ?? Double(fields[1])
        }
        guard let rate = number(after: "Requests/sec:") else { throw BenchmarkError("wrk printed no rate:\n\(run)") }
        // "  Non-2xx or 3xx responses: 22256" and "  Socket errors: connect 0, read 0, write 0, timeout 32":
        // the numbers after the colon.
        var errors = 0
        for line in run.split(separator: "\n") where line.contains("Non-2xx") || line.contains("Socket errors") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            errors += line[line.index(after: colon)...].split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }.reduce(0, +)
        }
        // "  9168 requests in 2.10s, 1.83MB read"
        var successes = rate
        if let line = run.split(separator: "\n").first(where: { $0.contains(" requests in ") }) {
            let fields = line.split(separator: " ")
            if let total = Double(fields[0]), let duration = fields.firstIndex(of: "in").flatMap({ Double(fields[$0 + 1].dropLast(2)) }), duration > 0 {
                successes = max(0, total - Double(errors)) / duration
            }
        }
        return Load(requestsPerSecond: rate, successesPerSecond: successes, p50Milliseconds: number(after: "50%") ?? .nan, p99Milliseconds: number(after: "99%") ?? .nan,
                    errors: errors)
    }

    /// "1.23ms", "850.00us", "1.50s" in milliseconds.
    private static func milliseconds(_ text: String) -> Double? {
        for (suffix, scale) in [("us", 0.001), ("ms", 1.0), ("s", 1000.0)] where text.hasSuffix(suffix) {
            return Double(text.dropLast(suffix.count)).map { $0 * scale }
        }
        return nil
    }
}

/// A benchmark that could not run, and why.
struct BenchmarkError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
