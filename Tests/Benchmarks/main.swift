// `make bench`: CBOR encode/decode rates of typical Boson messages, and seal/open of a 200-byte
// message through the datagram envelope next to raw libsodium crypto_box_easy_afternm /
// crypto_box_open_easy_afternm on the same bytes in the same run (the physical limit).
//
// Then DHT nodes on loopback, one node's request-handling rate next to a UDP echo (Linux), the plugin
// host (in process and in a plugin runner), and billing's hot path and durable flushes.
//
// Each figure is the median of 5 rounds of about BENCH_SECONDS/5 seconds (default 5 s in all).
import CarrierCore
import CarrierDHT
import CSodium
import Foundation

#if os(Linux)
// `carrier-bench --serve MODE` is the server child of the request-rate benchmark, not a benchmark run.
if CommandLine.arguments.count > 1, CommandLine.arguments[1] == RequestRateBenchmark.serveFlag {
    try await RequestRateBenchmark.serve(CommandLine.arguments.dropFirst(2).first ?? "")
    exit(0)
}
#endif

let totalSeconds = Double(ProcessInfo.processInfo.environment["BENCH_SECONDS"] ?? "") ?? 5
let rounds = 5
/// `carrier-bench WORD` runs only the benchmarks whose name contains WORD (case-insensitive).
let filter = CommandLine.arguments.dropFirst().first?.lowercased()

func selected(_ name: String) -> Bool { filter.map { name.lowercased().contains($0) } ?? true }

/// Runs `operation` (which performs `batch` operations per call) repeatedly and returns the median ns
/// per operation. `prepare` runs before each call, outside the timed part, and hands it its input.
func measure<Input>(batch: Int, prepare: () -> Input, _ operation: (Input) -> Void) -> Double {
    operation(prepare())  // warm up
    var samples: [Double] = []
    let clock = ContinuousClock()
    for _ in 0..<rounds {
        var operations = 0
        var timed = Duration.zero
        let start = clock.now
        let budget = Duration.seconds(totalSeconds / Double(rounds))
        while clock.now - start < budget {
            let input = prepare()
            timed += clock.measure { operation(input) }
            operations += batch
        }
        let nanoseconds = Double(timed.components.seconds) * 1e9 + Double(timed.components.attoseconds) / 1e9
        samples.append(nanoseconds / Double(operations))
    }
    return samples.sorted()[rounds / 2]
}

func measure(batch: Int, _ operation: () -> Void) -> Double {
    measure(batch: batch, prepare: {}, { _ in operation() })
}

struct Row {
    let name: String
    let nanosecondsPerOperation: Double
    let bytesPerOperation: Int
    let baseline: Double?
}

var rows: [Row] = []
@inline(never) func consume<T>(_ value: T) { withExtendedLifetime(value) {} }

/// Measures one benchmark if the filter selects `group`, and records it; returns its ns/op.
@discardableResult @MainActor
func benchmark(_ name: String, group: String, bytes: Int, baseline: Double? = nil, _ run: () -> Double) -> Double? {
    guard selected(group) else { return nil }
    let nanoseconds = run()
    rows.append(Row(name: name, nanosecondsPerOperation: nanoseconds, bytesPerOperation: bytes, baseline: baseline))
    return nanoseconds
}

// Typical messages: a FIND_NODE response with 8 IPv4 contacts and a STORE_VALUE of a signed value.
let owner = KeyPair.random()
let contacts = (0..<8).map { index in NodeInfo(id: Id.random(), address: IPAddress("192.0.2.\(index + 1)")!, port: 39001) }
let findNodeResponse = Message(txid: 4321, body: .findNodeResponse(FindNodeResponse(nodes: NodeLists(ipv4: contacts), token: 0x1234_5678)))
let storeRequest = Message(txid: 33, body: .storeValueRequest(StoreValueRequest(
    token: 87_654_321, value: .signed(by: owner, sequenceNumber: 3, data: [UInt8](repeating: 0x61, count: 100)))))

for (label, message) in [("FIND_NODE response, 8 nodes", findNodeResponse), ("STORE_VALUE, signed 100 B", storeRequest)] {
    let bytes = message.cbor
    benchmark("CBOR encode: \(label)", group: "cbor encode", bytes: bytes.count) {
        measure(batch: 100) { for _ in 0..<100 { consume(message.cbor) } }
    }
    benchmark("CBOR decode: \(label)", group: "cbor decode", bytes: bytes.count) {
        measure(batch: 100) { for _ in 0..<100 { consume(try! Message.decode(cbor: bytes)) } }
    }
}

// Seal/open of a 200-byte message, against raw libsodium on the same bytes.
let payload = [UInt8](repeating: 0x5A, count: 200)
let alice = DatagramEnvelope(identity: KeyPair.random())
let bob = DatagramEnvelope(identity: KeyPair.random())
var rawKey = [UInt8](repeating: 0, count: 32)
_ = crypto_box_beforenm(&rawKey, KeyPair.x25519PublicKey(of: bob.identity.publicKey)!, alice.identity.x25519SecretKey)
var nonce = Sodium.randomBytes(24)
var rawOutput = [UInt8](repeating: 0, count: payload.count + 16)
var rawPlain = [UInt8](repeating: 0, count: payload.count)

let rawSeal = benchmark("raw crypto_box_easy_afternm, 200 B", group: "envelope seal", bytes: 200) {
    measure(batch: 1000) {
        for _ in 0..<1000 {
            crypto_box_easy_afternm(&rawOutput, payload, UInt64(payload.count), nonce, rawKey)
            sodium_increment(&nonce, nonce.count)
        }
    }
}
benchmark("envelope seal, 200 B message", group: "envelope seal", bytes: 200, baseline: rawSeal) {
    measure(batch: 1000) { for _ in 0..<1000 { consume(try! alice.seal(payload, to: bob.identity.publicKey, family: .ipv4)) } }
}
// Open a genuine box each time (a failing MAC check returns early and would flatter the baseline).
let openNonce = Sodium.randomBytes(24)
crypto_box_easy_afternm(&rawOutput, payload, UInt64(payload.count), openNonce, rawKey)
let rawOpen = benchmark("raw crypto_box_open_easy_afternm, 200 B", group: "envelope open", bytes: 200) {
    measure(batch: 1000) {
        for _ in 0..<1000 { precondition(crypto_box_open_easy_afternm(&rawPlain, rawOutput, UInt64(rawOutput.count), openNonce, rawKey) == 0) }
    }
}
// Opening needs fresh datagrams (replays are refused): each batch is sealed beforehand, untimed.
benchmark("envelope open, 200 B message", group: "envelope open", bytes: 200, baseline: rawOpen) {
    measure(batch: 1000, prepare: { (0..<1000).map { _ in try! alice.seal(payload, to: bob.identity.publicKey, family: .ipv4) } }) { datagrams in
        for datagram in datagrams { consume(try! bob.open(datagram, family: .ipv4)) }
    }
}

func pad(_ text: String, _ width: Int, right: Bool = false) -> String {
    let padding = String(repeating: " ", count: max(0, width - text.count))
    return right ? padding + text : text + padding
}

if !rows.isEmpty {
    print("Carrier benchmarks (median of \(rounds) rounds, \(totalSeconds) s per figure)")
    print(pad("benchmark", 44) + pad("ns/op", 10, right: true) + pad("ops/s", 12, right: true) + pad("MB/s", 9, right: true) + pad("vs raw", 9, right: true))
    print(String(repeating: "-", count: 84))
    for row in rows {
        let opsPerSecond = 1e9 / row.nanosecondsPerOperation
        let megabytes = opsPerSecond * Double(row.bytesPerOperation) / 1e6
        let ratio = row.baseline.map { String(format: "%.2fx", row.nanosecondsPerOperation / $0) } ?? ""
        print(pad(row.name, 44) + pad(String(format: "%.0f", row.nanosecondsPerOperation), 10, right: true)
              + pad(String(format: "%.0f", opsPerSecond), 12, right: true) + pad(String(format: "%.1f", megabytes), 9, right: true)
              + pad(ratio, 9, right: true))
    }
    print("\"vs raw\" = time per operation relative to raw libsodium on the same 200 bytes (1.00x is the physical limit).")
}

// DHT nodes on loopback (real UDP sockets, one process), next to as many OpenDHT nodes.
if selected("loopback") {
    let settle = Int(ProcessInfo.processInfo.environment["BENCH_SETTLE"] ?? "") ?? 10
    print("")
    print("DHT on 127.0.0.1, one process per implementation, 200 put+get+lookup rounds \(settle) s after start")
    print(pad("implementation", 22) + pad("nodes", 6, right: true) + pad("put p50", 10, right: true) + pad("put p99", 10, right: true)
          + pad("get p50", 10, right: true) + pad("get p99", 10, right: true) + pad("get ok", 9, right: true)
          + pad("true K", 9, right: true) + pad("KiB/node", 10, right: true))
    func row(_ name: String, nodes: Int, _ figures: (Double, Double, Double, Double, Double, Double?, Double?)) {
        let (putP50, putP99, getP50, getP99, success, trueK, memory) = figures
        print(pad(name, 22) + pad("\(nodes)", 6, right: true) + pad(String(format: "%.2f ms", putP50), 10, right: true)
              + pad(String(format: "%.2f ms", putP99), 10, right: true) + pad(String(format: "%.2f ms", getP50), 10, right: true)
              + pad(String(format: "%.2f ms", getP99), 10, right: true) + pad(String(format: "%.1f %%", success * 100), 9, right: true)
              + pad(trueK.map { String(format: "%.1f %%", $0 * 100) } ?? "n/a", 9, right: true)
              + pad(memory.map { String(format: "%.0f", $0) } ?? "n/a", 10, right: true))
    }
    var notes: [String] = []
    for count in [64, 256] {
        let carrier = try await LoopbackNetworkBenchmark.run(nodes: count, operations: 200, settleSeconds: settle)
        row("Carrier (K = 16)", nodes: count, (carrier.putP50, carrier.putP99, carrier.getP50, carrier.getP99, carrier.getSuccess,
                                               carrier.trueClosest, carrier.memoryPerNodeKiB))
        do {
            let opendht = try OpenDHTComparison.run(nodes: count, operations: 200, settleSeconds: settle)
            row("OpenDHT \(opendht.version ?? "") (K = \(opendht.k))", nodes: count,
                (opendht.putP50, opendht.putP99, opendht.getP50, opendht.getP99, opendht.getSuccess, opendht.trueClosest, opendht.memoryPerNodeKiB))
            if let note = opendht.notes { notes.append("OpenDHT, \(count) nodes: \(note)") }
        } catch {
            print(pad("OpenDHT", 22) + pad("\(count)", 6, right: true) + "  not measured: \(error)")
        }
    }
    print("\"true K\" = share of lookups that ended on the true K closest nodes (each implementation's own K).")
    print("KiB/node = growth of the process's resident memory from the first node's start to the settle's end, divided by the nodes")
    print("started after it (what a process pays once, its threads and the first use of its libraries, is not per node).")
    for note in notes { print(note) }
}

#if os(Linux)
// One node on one core against UDP echoes on the same core (server child processes).
if selected("request rate") {
    let report = try await RequestRateBenchmark.run(seconds: totalSeconds, rounds: rounds)
    print("")
    print("One node's request rate on 127.0.0.1 (server process on core \(report.serverCore), load generator on core "
          + "\(report.generatorCore); median of \(rounds) rounds)")
    print(pad("benchmark", 32) + pad("requests/s", 12, right: true) + pad("spread", 8, right: true) + pad("vs echo", 9, right: true)
          + pad("server core", 13, right: true) + pad("load core", 11, right: true) + pad("lost", 6, right: true) + pad("wrong", 7, right: true)
          + pad("checked", 9, right: true))
    print(String(repeating: "-", count: 107))
    for row in report.rows {
        print(pad(row.name, 32) + pad(String(format: "%.0f", row.requestsPerSecond), 12, right: true)
              + pad(String(format: "±%.0f %%", row.spread * 100), 8, right: true)
              + pad(String(format: "%.2fx", report.limit.requestsPerSecond / row.requestsPerSecond), 9, right: true)
              + pad(String(format: "%.0f %%", row.serverCoreBusy * 100), 13, right: true)
              + pad(String(format: "%.0f %%", row.generatorCoreBusy * 100), 11, right: true)
              + pad("\(row.lost)", 6, right: true) + pad("\(row.wrong)", 7, right: true) + pad("\(row.checked)", 9, right: true))
    }
    print("\"vs echo\" = time per request relative to the UDPTransport echo, the limit: it answers each datagram with its own bytes")
    print("over the node's transport, so the gap is the DHT's work. The POSIX echo (recvfrom/sendto) shows the transport's own cost;")
    print("at its rate the load generator's core is the limit. Spread = half the range of the rounds; core = busy share of that core.")
    print("\(RequestRateBenchmark.clientCount) clients, \(RequestRateBenchmark.clientCount * RequestRateBenchmark.inFlightPerClient) requests "
          + "in flight. PING: \(report.ping.request) B in, \(report.ping.answer) B out. FIND_NODE: \(report.findNode.request) B in, "
          + "\(report.findNode.answer) B out")
    print("with \(report.nodesPerAnswer) IPv4 contacts, from a routing table of \(report.routingEntries) entries.")
    print(String(format: "PING while another client stores: %.2fx the PING rate alone (issue #15's goal: at least 0.8x); ", report.pingWhileStoring)
          + "\(report.stores.answered) of \(report.stores.sent) STORE_VALUE answered as stored, each durable before its answer.")
}
#endif

if selected("host") {
    let host = try await HostBenchmark.run(seconds: totalSeconds / 5)
    print("")
    print("Plugin host with hello-c, in process")
    print(String(format: "call into the plugin through its table (health)      %8.0f ns", host.directCallNanoseconds))
    print(String(format: "call into the plugin on its executor, awaited        %8.1f µs", host.executorCallMicroseconds))
    print(String(format: "host-API call from the plugin's side (counter_add)   %8.0f ns", host.hostCallNanoseconds))
    print(String(format: "load (hash + dlopen) + create + start, p50 / max     %5.2f / %.2f ms", host.loadStartMilliseconds.p50,
                 host.loadStartMilliseconds.max))
    print(String(format: "host-API round trip from the plugin's side (sign)    %8.1f µs", host.signNanoseconds / 1000))
    print("idle resident memory: " + (host.idleResidentKiB.map { "\($0) KiB" } ?? "n/a") + " (\(host.idleNote))")
    if let isolated = host.isolated {
        print("\nThe same plugin in a plugin runner (isolation = \"process\"); ratio against in process")
        print(String(format: "call into the plugin, awaited (health)               %8.1f µs  %6.1fx", isolated.healthMicroseconds,
                     isolated.healthMicroseconds / host.executorCallMicroseconds))
        print(String(format: "host-API round trip from the plugin (sign)           %8.1f µs  %6.1fx", isolated.signMicroseconds,
                     isolated.signMicroseconds * 1000 / host.signNanoseconds))
        print(String(format: "host-API one-way call from the plugin (counter_add)  %8.0f ns  %6.1fx", isolated.counterAddNanoseconds,
                     isolated.counterAddNanoseconds / host.hostCallNanoseconds))
        print(String(format: "spawn runner + load + create + start, p50 / max      %5.2f / %.2f ms", isolated.startMilliseconds.p50,
                     isolated.startMilliseconds.max))
    } else {
        print("process isolation: not measured (build carrier in release mode beside the benchmark; make bench does)")
    }
}

if selected("billing") {
    let billing = try BillingBenchmark.run(seconds: max(1, totalSeconds / 2))
    print("\nBilling (scratch ledger, 1,000 clients, one priced meter; flushes every 1 s, synchronous = FULL)")
    print(String(format: "authorize + report, 1 thread                       %8.0f ns per call  (%.0f calls/s)",
                 billing.oneThread.nanosecondsPerCall, 1e9 / billing.oneThread.nanosecondsPerCall))
    print(String(format: "authorize + report, 2 threads                      %8.0f ns per call per thread  (%.0f calls/s in all)",
                 billing.twoThreads.nanosecondsPerCall, 2e9 / billing.twoThreads.nanosecondsPerCall))
    print(String(format: "durable flush of %4.0f usage rows                   %8.2f ms  (%.0f rows/s)", billing.oneThread.rowsPerFlush,
                 billing.oneThread.flushMilliseconds, billing.oneThread.rowsPerFlush * 1000 / max(billing.oneThread.flushMilliseconds, 0.001)))
    print(String(format: "durable flush of one row (commit + fsync)          %8.2f ms  (%.0f flushes/s)", billing.smallFlushMilliseconds,
                 1000 / billing.smallFlushMilliseconds))
}

if selected("proxy") {
    let seconds = Int(ProcessInfo.processInfo.environment["PROXY_BENCH_SECONDS"] ?? "") ?? 10
    let proxy = try await ProxyBenchmark.run(seconds: seconds)
    print("\nDHT proxy under wrk (\(ProxyBenchmark.threads) threads, \(ProxyBenchmark.connections) connections, \(seconds) s per row); "
          + "each proxy a process on 127.0.0.1 with one DHT peer")
    print(pad("load", 44) + pad("answers/s", 11, right: true) + pad("ok/s", 9, right: true) + pad("p50", 12, right: true)
          + pad("p99", 12, right: true) + pad("errors", 8, right: true) + pad("ok vs OpenDHT", 15, right: true))
    func line(_ name: String, _ load: ProxyBenchmark.Load, against baseline: ProxyBenchmark.Load?) {
        print(pad(name, 44) + pad(String(format: "%.0f", load.requestsPerSecond), 11, right: true)
              + pad(String(format: "%.0f", load.successesPerSecond), 9, right: true)
              + pad(String(format: "%.2f ms", load.p50Milliseconds), 12, right: true) + pad(String(format: "%.2f ms", load.p99Milliseconds), 12, right: true)
              + pad("\(load.errors)", 8, right: true)
              + pad(baseline.map { String(format: "%.2fx", load.successesPerSecond / max($0.successesPerSecond, 0.001)) } ?? "", 15, right: true))
    }
    line("Carrier GET /v1/values/{id} (cached)", proxy.carrierValue, against: proxy.openDHTKey)
    line("Carrier GET /key/{hash}", proxy.carrierKey, against: proxy.openDHTKey)
    if let openDHTKey = proxy.openDHTKey { line("OpenDHT 2.4 GET /key/{hash}", openDHTKey, against: nil) }
    for (round, load) in proxy.carrierPosts.enumerated() {
        line("Carrier POST /key/{random}, round \(round + 1)", load, against: proxy.openDHTPosts.indices.contains(round) ? proxy.openDHTPosts[round] : nil)
    }
    for (round, load) in proxy.raisedPosts.enumerated() {
        line("Carrier POST, limits raised, round \(round + 1)", load, against: proxy.openDHTPosts.indices.contains(round) ? proxy.openDHTPosts[round] : nil)
    }
    for (round, load) in proxy.openDHTPosts.enumerated() { line("OpenDHT 2.4 POST /key/{random}, round \(round + 1)", load, against: nil) }
    if let note = proxy.openDHTNote { print(note) }
    let fan = proxy.fanOut
    print(String(format: "\nWebSocket fan-out: %d subscribers on one value, %d puts; put to last notification p50 %.1f ms, p99 %.1f ms, max %.1f ms; %d missing",
                 fan.subscribers, fan.rounds, fan.percentile(0.5), fan.percentile(0.99), fan.lastArrival.last ?? .nan, fan.missing))
    print("answers/s counts every answer, ok/s the 2xx ones; errors = non-2xx answers and socket errors counted by wrk.")
    print("\"limits raised\": both Carrier nodes with node.toml [rate_limits] at 1,000,000/s (the defaults allow 1,024 requests/s to one peer).")
    print("The ratio compares ok/s with OpenDHT's proxy on the same route.")
}

if selected("proxy-servers") {
    let seconds = Int(ProcessInfo.processInfo.environment["PROXY_BENCH_SECONDS"] ?? "") ?? 10
    let servers = try await HTTPServerComparison.run(seconds: seconds)
    print("\nThe proxy's HTTP server (CarrierHTTP) against Hummingbird 2, same backend, one event-loop thread each, in one process; "
          + "wrk \(ProxyBenchmark.threads) threads, \(ProxyBenchmark.connections) connections, \(seconds) s per row, alternating")
    print(pad("route and round", 34) + pad("CarrierHTTP ok/s", 18, right: true) + pad("p99", 12, right: true)
          + pad("Hummingbird ok/s", 18, right: true) + pad("p99", 12, right: true) + pad("ours vs HB", 12, right: true))
    for route in servers.routes {
        for (round, (ours, theirs)) in zip(servers.carrier[route] ?? [], servers.hummingbird[route] ?? []).enumerated() {
            print(pad("GET \(route.hasPrefix("/v1/values/") ? "/v1/values/{id}" : route), round \(round + 1)", 34)
                  + pad(String(format: "%.0f", ours.successesPerSecond), 18, right: true) + pad(String(format: "%.2f ms", ours.p99Milliseconds), 12, right: true)
                  + pad(String(format: "%.0f", theirs.successesPerSecond), 18, right: true) + pad(String(format: "%.2f ms", theirs.p99Milliseconds), 12, right: true)
                  + pad(String(format: "%.2fx", ours.successesPerSecond / max(theirs.successesPerSecond, 0.001)), 12, right: true))
        }
    }
}

if selected("shadow") {
    print("\nShadow: a tunnel through the release plugin (in a plugin runner) and a ShadowClient, on 127.0.0.1, against the direct path")
    do {
        let shadow = try await ShadowBenchmark.run(seconds: totalSeconds)
        print(pad("figure", 44) + pad("tunnel", 14, right: true) + pad("direct", 14, right: true) + pad("tunnel/direct", 15, right: true))
        func megabits(_ bits: Double?) -> String { bits.map { String(format: "%.0f Mbit/s", $0 / 1e6) } ?? "-" }
        if let tunnel = shadow.tunnelBitsPerSecond, let direct = shadow.directBitsPerSecond {
            print(pad("iperf3 throughput (\(shadow.cipher))", 44) + pad(megabits(tunnel), 14, right: true) + pad(megabits(direct), 14, right: true)
                  + pad(String(format: "%.2fx", tunnel / direct), 15, right: true))
            if let relay = shadow.copyRelayBitsPerSecond {
                print(pad("  two socat relays that only copy", 44) + pad(megabits(relay), 14, right: true) + pad(megabits(direct), 14, right: true)
                      + pad(String(format: "%.2fx", relay / direct), 15, right: true))
            }
        } else {
            print(pad("iperf3 throughput", 44) + "  " + (shadow.iperfNote ?? "not measured"))
        }
        func row(_ name: String, _ tunnel: Double, _ direct: Double) {
            print(pad(name, 44) + pad(String(format: "%.3f ms", tunnel), 14, right: true) + pad(String(format: "%.3f ms", direct), 14, right: true)
                  + pad(String(format: "%.2fx", tunnel / direct), 15, right: true))
        }
        row("1 KiB round trip, p50", shadow.roundTrip.tunnel.p50, shadow.roundTrip.direct.p50)
        row("1 KiB round trip, p99", shadow.roundTrip.tunnel.p99, shadow.roundTrip.direct.p99)
        row("new connection to first byte, 2 spares, p50", shadow.firstByte.tunnel.p50, shadow.firstByte.direct.p50)
        row("new connection to first byte, 2 spares, p99", shadow.firstByte.tunnel.p99, shadow.firstByte.direct.p99)
        row("  the same without spares, p50", shadow.firstByteWithoutSpares.p50, shadow.firstByte.direct.p50)
        row("  the same without spares, p99", shadow.firstByteWithoutSpares.p99, shadow.firstByte.direct.p99)
        for http in shadow.http {
            let label = http.offered.map { "HTTP at \($0) req/s" } ?? "HTTP with no rate limit"
            func rate(_ load: ShadowBenchmark.HTTPLoad) -> String { String(format: "%.0f req/s", load.requestsPerSecond) }
            print(pad(label + ", achieved", 44) + pad(rate(http.tunnel), 14, right: true) + pad(rate(http.direct), 14, right: true)
                  + pad(String(format: "%.2fx", http.tunnel.requestsPerSecond / http.direct.requestsPerSecond), 15, right: true))
            row(label + ", p50", http.tunnel.p50, http.direct.p50)
            row(label + ", p99", http.tunnel.p99, http.direct.p99)
            if http.tunnel.failed + http.direct.failed > 0 {
                print("  \(label): \(http.tunnel.failed) requests failed through the tunnel, \(http.direct.failed) directly")
            }
        }
        if let skipped = shadow.httpSkipped { print(pad("HTTP latency", 44) + "  \(skipped)") }
        print("Everything shares the 2 cores: iperf3's client and server, h2load, the supernode's plugin runner and the ShadowClient.")
        print("HTTP: h2load --h1, \(ShadowBenchmark.httpConnections) connections sharing the rate (with no rate limit: each as fast as it can, "
              + "one request at a time), \(ShadowBenchmark.httpSeconds) s")
        print("after 1 s of warm-up, against a keep-alive SwiftNIO server answering \(FixedHTTPServer.body.utf8.count) bytes; "
              + "p50/p99 of every request in h2load's --log-file.")
        if let memory = shadow.memory {
            print("\nShadow memory (VmRSS): the plugin runner (pid \(memory.runnerPID)) and this process (the ShadowClients and the echo server)")
            print(pad("figure", 44) + pad("runner", 14, right: true) + pad("this process", 14, right: true))
            func kib(_ name: String, _ figures: (runner: Double, this: Double), decimals: Int = 1) {
                print(pad(name, 44) + pad(String(format: "%.\(decimals)f KiB", figures.runner), 14, right: true)
                      + pad(String(format: "%.\(decimals)f KiB", figures.this), 14, right: true))
            }
            kib("RSS, plugin started, no client", (Double(memory.noClient.runner), Double(memory.noClient.this)), decimals: 0)
            kib("growth per idle mapping (\(memory.idleClients) clients, 1 each)", memory.perIdleMapping)
            kib("RSS, \(memory.heldStreams) streams held open", (Double(memory.peak.runner), Double(memory.peak.this)), decimals: 0)
            kib("growth per stream held open", memory.perStream)
            print("streams held open: \(memory.heldStreams) of \(memory.wantedStreams) (each echoed a byte); with all open, "
                  + "\(memory.stillEchoing) echoed one more.")
            print("Growth per idle mapping is counted from one client connected; per stream, from the idle clients connected.")
        } else if let skipped = shadow.memorySkipped {
            print("\nShadow memory: \(skipped)")
        }
    } catch {
        print("  \(error)")
    }
}

if selected("simulation") { SimulationBenchmark.printTable() }
