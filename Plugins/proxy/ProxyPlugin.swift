import CarrierCore
import CarrierHTTP
import CarrierPluginABI
import CarrierPluginSDK
import Foundation

/// The DHT proxy: light nodes reach the DHT over HTTP through this supernode, with the native
/// API under `/v1` (`ProxyRoutes`), the same over a WebSocket at `/v1/ws` with subscriptions
/// (`ProxySocketSession`), and OpenDHT's proxy API (`OpenDHTRoutes`).
///
/// Config: `host` (default "0.0.0.0"), `port` (default 39200; 0 picks one), `cacheMilliseconds`
/// (how long a looked-up value is served from memory, default 2000), `pollSeconds` (how often
/// listened-to values are looked up on the network, default 5), `valueSeconds` (how long an
/// OpenDHT value lives, default 600), `maxWrites` (DHT stores and announcements in progress at
/// once, beyond which a write answers 503, default 64), and who may use it and how much
/// (`AccessPolicy`), and the HTTP server's bounds: `connectionsPerSource` (256), `maxConnections`
/// (16,384), `idleSeconds` (30), `headerSeconds` (10), `writeStallSeconds` (30) (`HTTPServerLimits`).
/// It announces service `proxy` at `http://{host}:PORT`, and bills meter
/// `requests` per light node.
final class ProxyPlugin: CarrierPlugin, @unchecked Sendable {
    // @unchecked: `server`, `poller` and `refusals` are set in start and cleared in stop, both on the host's executor.
    static let id = "org.carrier.proxy"
    static let version = "0.2.0"
    static let summary = "DHT proxy for light nodes over HTTP"
    static let capabilities: PluginCapabilities = [.service]

    private let host: CarrierHostAPI
    private let address: String
    private let port: Int
    private let pollInterval: Duration
    private let maxWrites: Int
    private let valueLifetime: Int64
    private let cache: ValueCache
    private let watch: ValueWatch
    private let peerWatch: PeerWatch
    private let dhtHealth: ProxyHealth
    private let access: ProxyAccess
    private let limits: HTTPServerLimits
    private var server: HTTPServer?
    private var refusals: Task<Void, Never>?
    private var poller: Task<Void, Never>?

    init(host: CarrierHostAPI, configJSON: String) throws {
        self.host = host
        guard let config = (try? JSONSerialization.jsonObject(with: Data(configJSON.utf8))) as? [String: Any] else {
            throw PluginError("the config is not a JSON object")
        }
        func integer(_ key: String, default value: Int, _ range: ClosedRange<Int>) throws -> Int {
            guard let number = config[key].map({ $0 as? Int }) ?? value else { throw PluginError("config.\(key) must be an integer") }
            guard range.contains(number) else { throw PluginError("config.\(key) \(number) is outside \(range.lowerBound)...\(range.upperBound)") }
            return number
        }
        guard let address = config["host"].map({ $0 as? String }) ?? "0.0.0.0" else { throw PluginError("config.host must be a string") }
        var policy = AccessPolicy()
        guard let anonymous = config["anonymous"].map({ $0 as? Bool }) ?? false else { throw PluginError("config.anonymous must be true or false") }
        policy.anonymous = anonymous
        policy.anonymousRate = try integer("anonymousRate", default: policy.anonymousRate, 1...1_000_000)
        policy.clientRate = try integer("clientRate", default: policy.clientRate, 1...1_000_000)
        policy.addressRate = try integer("addressRate", default: policy.addressRate, 1...1_000_000)
        policy.sessionSeconds = try integer("sessionSeconds", default: policy.sessionSeconds, 1...604_800)
        var limits = HTTPServerLimits()
        limits.connectionsPerSource = try integer("connectionsPerSource", default: limits.connectionsPerSource, 1...1_000_000)
        limits.maxConnections = try integer("maxConnections", default: limits.maxConnections, 1...1_000_000)
        limits.idleTimeout = .seconds(try integer("idleSeconds", default: Int(limits.idleTimeout.components.seconds), 1...3600))
        limits.headerTimeout = .seconds(try integer("headerSeconds", default: Int(limits.headerTimeout.components.seconds), 1...600))
        limits.writeStallTimeout = .seconds(try integer("writeStallSeconds", default: Int(limits.writeStallTimeout.components.seconds), 1...3600))
        self.limits = limits
        access = ProxyAccess(host: host, policy: policy)
        try host.defineMeter(ProxyAccess.meter, unit: "request")
        self.address = address
        port = try integer("port", default: 39200, 0...65535)
        pollInterval = .seconds(try integer("pollSeconds", default: 5, 1...3600))
        maxWrites = try integer("maxWrites", default: 64, 1...10_000)
        valueLifetime = Int64(try integer("valueSeconds", default: 600, 1...86_400))
        cache = ValueCache(host: host, ttl: .milliseconds(try integer("cacheMilliseconds", default: 2000, 0...3_600_000)))
        watch = ValueWatch(host: host)
        peerWatch = PeerWatch(host: host)
        dhtHealth = ProxyHealth(host: host)
    }

    func start() throws {
        do {
            try serve()
        } catch {
            // The host calls destroy, not stop, after a failed start: release the port and the poller here.
            stop()
            throw error
        }
    }

    private func serve() throws {
        let statistics = ProxyStatistics()
        let writes = WriteGate(limit: maxWrites)
        let store = OpenDHTStore(host: host, cache: cache, watch: watch, writes: writes, valueLifetime: valueLifetime)
        let native = ProxyRoutes(host: host, version: Self.version, cache: cache, health: dhtHealth, values: watch, peers: peerWatch,
                                 writes: writes)
        let openDHT = OpenDHTRoutes(host: host, store: store, cache: cache, watch: watch, statistics: statistics, health: dhtHealth)
        let cache = self.cache, watch = self.watch, peerWatch = self.peerWatch, access = self.access
        let webSocket = WebSocketEndpoint(path: "/v1/ws", maxMessage: limits.maxBody) { connection in
            ProxySocketSession(connection: connection, routes: native, cache: cache, values: watch, peers: peerWatch, access: access)
        }
        let server = try HTTPServer(host: address, port: port, limits: limits, webSocket: webSocket, refusal: ProxyRoutes.refusal) { request in
            await statistics.request { await Self.route(request, access: access, native: native, openDHT: openDHT) }
        }
        self.server = server
        refusals = HTTPRefusalMetrics(host: host, counters: server.counters).reportEverySecond()
        // The node's storage events: only values and peers the proxy has cached or someone
        // listens to matter.
        try host.subscribeEvents { event in
            switch event {
            case .valueUpdated(let stored):
                let value = Value(stored)
                Task {
                    await cache.refresh(value)
                    await watch.offer(value)
                }
            case .peerAnnounced(let record):
                guard let peer = PeerInfo(record) else { return }
                Task { await peerWatch.offer([peer], for: peer.peerId) }
            }
        }
        let health = self.dhtHealth, interval = pollInterval, host = self.host
        poller = Task {
            var wasHealthy: Bool?
            while !Task.isCancelled {
                await health.refresh()
                guard !Task.isCancelled else { return }
                if wasHealthy != health.isHealthy {
                    host.log(health.isHealthy ? .info : .warning, "proxy: \(health.detail)")
                    wasHealthy = health.isHealthy
                }
                await watch.poll()
                await peerWatch.poll()
                try? await Task.sleep(for: interval)
            }
        }
        try host.announceService("proxy", endpoint: "http://{host}:\(server.port)")
        host.log(.info, "proxy serving on \(address):\(server.port)")
    }

    /// Every HTTP request: the browser assets and the session routes first; then the client is
    /// identified, admitted (rate limits, billing), served, and billed if served.
    private static func route(_ request: HTTPRequest, access: ProxyAccess, native: ProxyRoutes, openDHT: OpenDHTRoutes) async -> HTTPAnswer {
        let isNative = request.pathStarts(with: "/v1/")
        let client: Id?
        do {
            // The page, the script and the session routes are limited per address only.
            // Every request counts against its address first, so a flood of bad tokens is limited too.
            try access.admitAddress(request.remote)
            if let asset = WebAssets.answer(for: request) { return asset }
            if request.pathStarts(with: "/v1/auth/") { return access.respond(request) }
            client = try access.client(of: request)
            try access.admitClient(client, remote: request.remote)
        } catch {
            var answer = isNative ? ProxyRoutes.error(error.status, code: error.code.rawValue, error.message)
                : OpenDHTRoutes.error(error.status, error.message)
            if error.status == .tooManyRequests { answer.retryAfter = 1 }
            return answer
        }
        let answer: HTTPAnswer
        if isNative {
            answer = await native.respond(request)
        } else {
            answer = await openDHT.respond(request) ?? ProxyRoutes.error(.notFound, code: ErrorCode.methodUnknown.rawValue, "no such route: \(request.path)")
        }
        if (200..<300).contains(answer.status.code) { access.report(client) }
        return answer
    }

    func stop() {
        try? host.withdrawService("proxy")
        poller?.cancel()
        poller = nil
        refusals?.cancel()
        refusals = nil
        server?.close()
        server = nil
    }

    func health() -> (PluginHealth, String) {
        guard let server else { return (.failing, "not serving") }
        guard dhtHealth.isHealthy else { return (.failing, "serving HTTP on port \(server.port), but \(dhtHealth.detail)") }
        return (.ok, "serving HTTP on port \(server.port); \(dhtHealth.detail)")
    }
}

@_cdecl("carrier_plugin_entry_v1")
public func carrierPluginEntry(_ api: UnsafePointer<carrier_host_api_v1>?) -> UnsafePointer<carrier_plugin_v1>? {
    PluginExport.entry(ProxyPlugin.self, api)
}
