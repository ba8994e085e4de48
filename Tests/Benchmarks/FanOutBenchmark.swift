import CarrierCore
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Synchronization
import TestSupport

/// WebSocket fan-out: `subscribers` connections to one proxy subscribe to one value; each round
/// puts the next version through `POST /v1/values` and times from the put to the last
/// subscriber's notification (the put's own DHT store included). With 20 rounds, the p99 is the
/// slowest round.
enum FanOutBenchmark {
    struct Figures {
        let subscribers: Int
        let rounds: Int
        /// Milliseconds from the put to the last notification, per round, sorted.
        let lastArrival: [Double]
        /// Notifications that did not arrive within 10 s.
        let missing: Int

        func percentile(_ fraction: Double) -> Double {
            lastArrival.isEmpty ? .nan : lastArrival[min(lastArrival.count - 1, Int(Double(lastArrival.count) * fraction))]
        }
    }

    /// Arrivals per version: how many subscribers have it, and when the last one did.
    private final class Arrivals: Sendable {
        let seen = Mutex<[Int32: (count: Int, last: ContinuousClock.Instant)]>([:])
    }

    static func run(port: Int, subscribers: Int = 1000, rounds: Int = 20) async throws -> Figures {
        let owner = KeyPair.random()
        let base = "http://127.0.0.1:\(port)"
        try await put(Value.signed(by: owner, sequenceNumber: 1, data: Array("version 1".utf8)), to: base)
        let arrivals = Arrivals()
        var sockets: [TestWebSocket] = []
        for _ in 0..<subscribers {
            let socket = try await TestWebSocket.connect(host: "127.0.0.1", port: port) { text in
                guard text.hasPrefix(#"{"event":"value""#), let range = text.range(of: #""seq":"#) else { return }
                let digits = text[range.upperBound...].prefix { $0.isNumber }
                guard let seq = Int32(digits) else { return }
                let now = ContinuousClock.now
                arrivals.seen.withLock { seen in
                    let count = (seen[seq]?.count ?? 0) + 1
                    seen[seq] = (count, max(now, seen[seq]?.last ?? now))
                }
            }
            try await socket.send(#"{"req":1,"op":"subscribe","value":"\#(owner.publicKey.base58)","seq":1}"#)
            sockets.append(socket)
        }
        // Every subscription is in place once each socket has its answer.
        for socket in sockets { _ = await socket.message(containing: #""result":{"subscription":"#) }

        var lastArrival: [Double] = [], missing = 0
        for round in 2...(rounds + 1) {
            let sequence = Int32(round)
            let started = ContinuousClock.now
            try await put(Value.signed(by: owner, sequenceNumber: sequence, data: Array("version \(round)".utf8)), to: base)
            let complete = await eventually(within: .seconds(10)) { arrivals.seen.withLock { ($0[sequence]?.count ?? 0) >= subscribers } }
            let (count, last) = arrivals.seen.withLock { ($0[sequence]?.count ?? 0, $0[sequence]?.last ?? started) }
            if complete { lastArrival.append((last - started).seconds * 1000) }
            missing += subscribers - count
        }
        for socket in sockets { await socket.close() }
        return Figures(subscribers: subscribers, rounds: rounds, lastArrival: lastArrival.sorted(), missing: missing)
    }

    private static func put(_ value: Value, to base: String) async throws {
        var request = URLRequest(url: URL(string: base + "/v1/values")!)
        request.httpMethod = "POST"
        request.httpBody = Data(value.json.utf8)
        let (_, response) = try await URLSession.shared.data(for: request)
        guard (response as? HTTPURLResponse)?.statusCode == 200 else { throw BenchmarkError("the put of seq \(value.sequenceNumber) failed") }
    }
}
