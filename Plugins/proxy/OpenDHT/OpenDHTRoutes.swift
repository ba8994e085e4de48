import CarrierCore
import CarrierHTTP
import CarrierPluginSDK
import NIOHTTP1
import Synchronization

/// The routes of OpenDHT's proxy API (as OpenDHT 2.4's `dhtnode --proxyclient` uses them), mapped
/// onto the Carrier DHT (docs/opendht-mapping.md):
///
/// - `GET /` (for a client that does not ask for HTML) and `GET /node/info`: the node's status,
///   with the routing-table counts OpenDHT clients use to decide whether the proxy is connected;
/// - `GET /node/stats`: counts of puts, listens and requests;
/// - `GET /key/{hash}`: the values at a key, one JSON object per line;
/// - `POST /key/{hash}`: puts a value (with `"permanent":true`, for an hour between refreshes);
/// - `GET /key/{hash}/listen`: the values at a key, then every new one (and every one that leaves,
///   evicted or expired, with `"expired":true`) as it arrives, until the client disconnects.
///
/// Errors are `{"err": message}`, as OpenDHT's proxy writes them.
struct OpenDHTRoutes: Sendable {
    let host: CarrierHostAPI
    let store: OpenDHTStore
    let cache: ValueCache
    let watch: ValueWatch
    let statistics: ProxyStatistics
    let health: ProxyHealth

    /// The answer, or nil when `request` is not an OpenDHT route.
    func respond(_ request: HTTPRequest) async -> HTTPAnswer? {
        let parts = request.pathSegments
        switch (request.method, parts.first, parts.count) {
        case (.GET, nil, _): return await info(request)
        case (.GET, "node", 2) where parts[1] == "info": return await info(request)
        case (.GET, "node", 2) where parts[1] == "stats": return await stats()
        case (_, nil, _): return ProxyRoutes.methodNotAllowed(request, allowed: [.GET], openDHT: true)
        case (_, "node", 2) where parts[1] == "info" || parts[1] == "stats": return ProxyRoutes.methodNotAllowed(request, allowed: [.GET], openDHT: true)
        case (_, "key", 2), (_, "key", 3):
            guard let key = OpenDHTKey(hex: parts[1]) else { return Self.error(.badRequest, "\(parts[1]) is not a 40-digit hex key") }
            switch (request.method, parts.count == 3 ? parts[2] : nil) {
            case (.GET, nil): return await get(key)
            case (.POST, nil): return await put(request.body, at: key)
            case (.GET, "listen"): return listen(key)
            case (_, nil): return ProxyRoutes.methodNotAllowed(request, allowed: [.GET, .POST], openDHT: true)
            case (_, "listen"): return ProxyRoutes.methodNotAllowed(request, allowed: [.GET], openDHT: true)
            default: return Self.error(.notFound, "\(request.path) is not an OpenDHT proxy route")
            }
        default: return nil
        }
    }

    private func get(_ key: OpenDHTKey) async -> HTTPAnswer {
        do {
            let lines = try await store.values(at: key).map { $0.json() + "\n" }
            return HTTPAnswer.json(lines.joined())
        } catch let error as OpenDHTValueError {
            return Self.error(.badGateway, "the Carrier value of this key does not hold OpenDHT values (\(error)); a put replaces it")
        } catch let failure as CarrierHostAPI.Failure where failure.isUnreachable {
            return Self.error(.serviceUnavailable, "the lookup failed: no node could be reached (\(failure))")
        } catch {
            return Self.error(.badGateway, "the lookup failed: \(error)")
        }
    }

    private func put(_ body: [UInt8], at key: OpenDHTKey) async -> HTTPAnswer {
        let parsed: (value: OpenDHTValue, permanent: Bool)
        do { parsed = try OpenDHTValue.parse(body) } catch { return Self.error(.badRequest, error.description) }
        do {
            let stored = try await store.put(parsed.value, at: key, permanent: parsed.permanent)
            return .json(stored.json() + "\n")
        } catch .tooLarge(let error) {
            return Self.error(.payloadTooLarge, error.description)
        } catch .busy(let reason) {
            var answer = Self.error(.serviceUnavailable, reason)
            answer.retryAfter = 1
            return answer
        } catch .conflict(let reason) {
            host.log(.info, "OpenDHT put at \(key.valueId) refused (409): \(reason)")
            return Self.error(.conflict, reason)
        } catch .unreachable(let reason) {
            host.log(.warning, "OpenDHT put at \(key.valueId) failed (503): \(reason)")
            return Self.error(.serviceUnavailable, "Put failed: \(reason)")
        } catch {
            host.log(.warning, "OpenDHT put at \(key.valueId) failed (502): \(error)")
            return Self.error(.badGateway, "Put failed: \(error)")
        }
    }

    private func listen(_ key: OpenDHTKey) -> HTTPAnswer {
        let cache = self.cache, watch = self.watch, statistics = self.statistics
        return .streamed { stream in
            let current = try? await cache.value(key.valueId)
            let listener = BucketListener(stream: stream)
            listener.update(current)
            // With no room for another watched key, the stream ends; the client listens again later.
            guard let token = await watch.watch(key.valueId, known: current, { listener.update($0) }) else { return }
            statistics.listening(+1)
            // Values also leave when their time runs out, with no new version of the bucket.
            let expiry = Task {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .milliseconds(listener.millisecondsToNextExpiry()))
                    listener.expireDue()
                }
            }
            await stream.closed()
            expiry.cancel()
            statistics.listening(-1)
            await watch.unwatch(key.valueId, token: token)
        }
    }

    private func info(_ request: HTTPRequest) async -> HTTPAnswer {
        .json(await nodeInfo(publicAddress: request.remote))
    }

    private func stats() async -> HTTPAnswer {
        let puts = await store.putCount, permanent = await store.permanentPutCount
        let rate = statistics.requestRate
        let text = #"{"listenCount":\#(statistics.listeners),"nodeInfo":\#(await nodeInfo(publicAddress: nil)),"pushListenersCount":0,"#
            + #""putCount":\#(puts),"requestRate":\#(rate),"totalPermanentPuts":\#(permanent)}"#
        return .json(text)
    }

    /// OpenDHT's node info: per family the good and dubious contacts (`incoming` is not counted
    /// here and is 0), `node_id` the first 20 bytes of the supernode's id in hex (OpenDHT ids are
    /// 20 bytes; `carrier_id` has the whole id in Base58), `ops` the operations in progress.
    private func nodeInfo(publicAddress: String?) async -> String {
        let status = health.latest ?? DHTStatus()
        let id = host.nodeId
        var entries: [JSONValue.Entry] = [
            JSONValue.Entry("carrier_id", .string(Id(bytes: id)?.base58 ?? "")),
            JSONValue.Entry("ipv4", Self.family(good: status.goodIPv4, dubious: status.dubiousIPv4)),
            JSONValue.Entry("ipv6", Self.family(good: status.goodIPv6, dubious: status.dubiousIPv6)),
            JSONValue.Entry("node_id", .string(Hex.encode(id.prefix(20)))),
            JSONValue.Entry("ops", .integer(Int64(statistics.inFlight))),
        ]
        if let publicAddress, !publicAddress.isEmpty { entries.append(JSONValue.Entry("public_ip", .string(publicAddress))) }
        return JSONValue.object(entries).text
    }

    private static func family(good: Int, dubious: Int) -> JSONValue {
        .object([JSONValue.Entry("dubious", .integer(Int64(dubious))), JSONValue.Entry("good", .integer(Int64(good))),
                 JSONValue.Entry("incoming", .integer(0))])
    }

    static func error(_ status: HTTPResponseStatus, _ message: String) -> HTTPAnswer {
        .json(JSONValue.object([JSONValue.Entry("err", .string(message))]).text, status)
    }
}

/// One listen stream's view of a key's bucket: what it has sent and until when each value lives,
/// so each new version of the bucket sends only the values that are new or changed, and a value
/// that leaves (evicted, or its time run out) is sent again with `"expired": true`.
private final class BucketListener: Sendable {
    private let stream: HTTPStream
    private let sent = Mutex<[UInt64: OpenDHTBucket.Entry]>([:])

    init(stream: HTTPStream) { self.stream = stream }

    /// A new version of the bucket.
    func update(_ value: Value?) {
        guard let bucket = try? OpenDHTStore.bucket(of: value) else { return }
        let live = bucket.live(at: OpenDHTStore.now)
        let lines = sent.withLock { sent -> [String] in
            var lines = live.filter { sent[$0.value.id]?.value != $0.value }.map { $0.value.json() }
            let liveIds = Set(live.map(\.value.id))
            lines += sent.values.filter { !liveIds.contains($0.value.id) }.map { $0.value.json(expired: true) }
            sent = Dictionary(live.map { ($0.value.id, $0) }, uniquingKeysWith: { $1 })
            return lines
        }
        send(lines)
    }

    /// Sends the values whose time has run out as expired.
    func expireDue() {
        let now = OpenDHTStore.now
        let lines = sent.withLock { sent -> [String] in
            let due = sent.values.filter { $0.expires <= now }
            for entry in due { sent[entry.value.id] = nil }
            return due.map { $0.value.json(expired: true) }
        }
        send(lines)
    }

    /// How long until the next sent value expires: at most a second (a value sent meanwhile may
    /// expire sooner than the ones known when the wait began), at least 100 ms.
    func millisecondsToNextExpiry() -> Int64 {
        let next = sent.withLock { $0.values.map(\.expires).min() }
        guard let next else { return 1000 }
        return min(1000, max(100, (next - OpenDHTStore.now) * 1000 + 50))
    }

    private func send(_ lines: [String]) {
        if !lines.isEmpty { stream.send(lines.map { $0 + "\n" }.joined()) }
    }
}
