import CarrierCore
import CarrierPluginABI
import CarrierPluginSDK
import CarrierShadow
import Foundation
import NIOCore
import NIOPosix

/// Shadow (docs/shadow.md): nodes behind NAT dial this supernode's tunnel port, authenticate by
/// their node keys, and get public TCP ports whose connections are relayed to them.
///
/// Config: `host` (listen address, default "0.0.0.0"), `port` (the tunnel port, default 39300; 0
/// picks one), `publicPorts` (the range mappings get, default "40000-40999"), `reserveDays` (how
/// long a port stays its client's after last use, default 7), each client's limits of
/// `ClientLimits` under their own names: `mappingsPerClient` (8), `streamsPerClient` (256),
/// `streamsPerMapping` (128), `bytesPerSecondPerClient` and `bytesPerSecondPerMapping` (0: none),
/// `idleSeconds` (900), `streamSeconds` (0: none), and any of them again in `[config.plans.NAME]`
/// for the clients billed by plan NAME (`client_plan`, ABI 1.5); the public ports' own
/// `connectionsPerSourcePerMinute` (600), `sourcesPerUDPMapping` (1024) and `denySources`
/// (comma-separated CIDR ranges no public port admits); `sparesPerClient` (8: data connections a
/// client may keep ready for its next public connections, 0: none); `httpPort` (a
/// shared HTTP port routing by `Host`, 0: none), `tlsPort` (a shared TLS port routing by the
/// ClientHello's server name without terminating TLS, 0: none) and `httpDomain` (both ports'
/// names' domain, default `shadow.localhost`). It announces service
/// `shadow` at `tcp://{host}:PORT` and bills meters `bytes_relayed` (bytes, both ways) and
/// `connection_seconds` per client.
final class ShadowPlugin: CarrierPlugin, @unchecked Sendable {
    // @unchecked: `tunnel`, `relay`, `group` and `hostCalls` are set in start and cleared in stop,
    // both on the host's executor.
    static let id = "org.carrier.shadow"
    static let version = "0.1.0"
    static let summary = "Shadow: exposes services behind NAT through this supernode"
    static let capabilities: PluginCapabilities = [.service]
    static let bytesMeter = "bytes_relayed"
    static let secondsMeter = "connection_seconds"

    private let host: CarrierHostAPI
    private let listenHost: String
    private let tunnelPort: Int
    private let publicPorts: ClosedRange<UInt16>
    private let reserveSeconds: Int64
    private let limits: ShadowLimits
    private let virtualHosts: VirtualHosts?
    private var group: MultiThreadedEventLoopGroup?
    private var hostCalls: NIOThreadPool?
    private var relay: ShadowRelay?
    private var tunnel: Channel?
    /// The shared HTTP and TLS ports' listeners.
    private var sharedListeners: [Channel] = []

    init(host: CarrierHostAPI, configJSON: String) throws {
        self.host = host
        func setting(_ key: String, _ range: ClosedRange<Int>) throws -> Int? {
            guard let number = try host.configInt(key).map(Int.init) else { return nil }
            guard range.contains(number) else { throw PluginError("config.\(key) \(number) is outside \(range.lowerBound)...\(range.upperBound)") }
            return number
        }
        func integer(_ key: String, default value: Int, _ range: ClosedRange<Int>) throws -> Int { try setting(key, range) ?? value }
        listenHost = try host.configString("host") ?? "0.0.0.0"
        tunnelPort = try integer("port", default: 39300, 0...65535)
        publicPorts = try Self.portRange(try host.configString("publicPorts") ?? "40000-40999")
        reserveSeconds = Int64(try integer("reserveDays", default: 7, 0...3650)) * 86_400
        var limits = ShadowLimits()
        limits.client = try limits.client.overridden(by: setting)
        for plan in try Self.planNames(configJSON) {
            limits.plans[plan] = try limits.client.overridden { key, range in try setting("plans.\(plan).\(key)", range) }
        }
        limits.connectionsPerSourcePerMinute = try integer("connectionsPerSourcePerMinute", default: limits.connectionsPerSourcePerMinute,
                                                           1...1_000_000)
        limits.sourcesPerDatagramMapping = try integer("sourcesPerUDPMapping", default: limits.sourcesPerDatagramMapping, 1...1_000_000)
        limits.sparesPerClient = try integer("sparesPerClient", default: limits.sparesPerClient, 0...64)
        do {
            limits.deniedSources = try [SourceRange](parsing: try host.configString("denySources") ?? "")
        } catch {
            throw PluginError("config.denySources: \(error)")
        }
        self.limits = limits
        let httpPort = try integer("httpPort", default: 0, 0...65535), tlsPort = try integer("tlsPort", default: 0, 0...65535)
        let domain = try host.configString("httpDomain") ?? "shadow.localhost"
        guard VirtualHosts.isValidDomain(domain) else {
            throw PluginError("config.httpDomain \"\(domain)\" is not a lowercase DNS name such as shadow.example.net")
        }
        for (key, port) in [("httpPort", httpPort), ("tlsPort", tlsPort)] where port != 0 {
            guard port != tunnelPort, !publicPorts.contains(UInt16(port)) else {
                throw PluginError("config.\(key) \(port) is the tunnel port or inside publicPorts: it needs a port of its own")
            }
        }
        guard httpPort == 0 || httpPort != tlsPort else { throw PluginError("config.httpPort and config.tlsPort are both \(httpPort): each needs a port of its own") }
        virtualHosts = httpPort == 0 && tlsPort == 0 ? nil
            : VirtualHosts(domain: domain, httpPort: httpPort == 0 ? nil : httpPort, tlsPort: tlsPort == 0 ? nil : tlsPort)
        try host.defineMeter(Self.bytesMeter, unit: "byte")
        try host.defineMeter(Self.secondsMeter, unit: "second")
    }

    /// The plans of `[config.plans.NAME]`, each a table of `ClientLimits` keys only.
    static func planNames(_ configJSON: String) throws -> [String] {
        guard let config = try? JSONSerialization.jsonObject(with: Data(configJSON.utf8)) as? [String: Any] else {
            throw PluginError("the config is not a JSON object")
        }
        guard let plans = config["plans"] else { return [] }
        guard let tables = plans as? [String: Any] else { throw PluginError("config.plans must be a table of [config.plans.NAME] tables") }
        let known = ClientLimits.keys.map(\.key)
        for (name, table) in tables {
            guard !name.isEmpty, !name.contains(".") else { throw PluginError("config.plans: \"\(name)\" is not a plan name (no dots)") }
            guard let keys = (table as? [String: Any])?.keys else { throw PluginError("config.plans.\(name) must be a table of limits") }
            if let unknown = keys.sorted().first(where: { !known.contains($0) }) {
                throw PluginError("config.plans.\(name).\(unknown): unknown limit (a plan sets \(known.joined(separator: ", ")))")
            }
        }
        return tables.keys.sorted()
    }

    /// "LOW-HIGH" (or one port) as a range of ports above 0.
    static func portRange(_ text: String) throws -> ClosedRange<UInt16> {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false).map { UInt16($0.trimmingCharacters(in: .whitespaces)) }
        guard (1...2).contains(parts.count), let low = parts.first ?? nil, let high = parts.last ?? nil, low > 0, low <= high else {
            throw PluginError("config.publicPorts \"\(text)\" is not a port range such as \"40000-40999\"")
        }
        return low...high
    }

    func start() throws {
        do {
            try serve()
        } catch {
            stop()
            throw error
        }
    }

    private func serve() throws {
        let storage = host.storageDirectory
        try FileManager.default.createDirectory(atPath: storage, withIntermediateDirectories: true)
        let ports = try PortAssignments(path: storage + "/shadow.sqlite", range: publicPorts, reserveSeconds: reserveSeconds)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
        self.group = group
        let hostCalls = NIOThreadPool(numberOfThreads: 2)
        hostCalls.start()
        self.hostCalls = hostCalls
        let host = self.host
        let count: @Sendable (String) -> Void = { name in host.counterAdd("shadow_" + name) }
        let hooks = ShadowRelay.Hooks(
            plan: { client in
                do {
                    return try host.clientPlan(client.bytes)
                } catch {
                    count("plan_unknown")
                    return nil
                }
            },
            mayServe: { client in
                host.authorize(client: client.bytes, meter: Self.bytesMeter, estimate: 1) == .allowed
            },
            relayed: { client, bytes, seconds in
                if bytes > 0 { try? host.reportUsage(client: client.bytes, meter: Self.bytesMeter, amount: UInt64(bytes)) }
                if seconds > 0 { try? host.reportUsage(client: client.bytes, meter: Self.secondsMeter, amount: UInt64(seconds)) }
                host.counterAdd("shadow_bytes_reported", Double(bytes))
            },
            countSocket: { client, socket in
                do {
                    let counted = try host.countTCPSocket(socket, client: client.bytes, meter: Self.bytesMeter)
                    count(counted ? "sockets_host_counted" : "sockets_plugin_counted")
                    return counted
                } catch {
                    count("sockets_plugin_counted")
                    return false
                }
            },
            count: count)
        let relay = ShadowRelay(ports: ports, group: group, hostCalls: hostCalls, listenHost: listenHost, limits: limits,
                                virtualHosts: virtualHosts, hooks: hooks)
        self.relay = relay
        for (key, port, reading) in [("httpPort", virtualHosts?.httpPort, SharedPortReading.http), ("tlsPort", virtualHosts?.tlsPort, .tls)] {
            guard let port else { continue }
            let listening = PublicListener.bind(host: listenHost, port: port, group: group, tracking: relay.openChannels) { channel in
                guard relay.admitSharedPortConnection(channel, kind: reading.kind) else { return }
                let router = SharedPortRouter(reading, count: count, finished: { relay.sharedPortConnectionLeft() }) { name, channel, head in
                    relay.virtualHostConnection(channel, host: name, head: head)
                }
                do {
                    try channel.pipeline.syncOperations.addHandler(router)
                } catch {
                    relay.sharedPortConnectionLeft()
                    channel.close(promise: nil)
                }
            }
            do {
                sharedListeners.append(try listening.wait())
            } catch {
                throw PluginError("cannot listen on \(key) \(port) at \(listenHost): \(error)")
            }
        }
        guard let node = Id(bytes: host.nodeId) else { throw PluginError("the host's node id is not 32 bytes") }
        let tunnel = try TunnelServer.bind(host: listenHost, port: tunnelPort, node: node, relay: relay, signing: hostCalls,
                                           sign: { try host.sign($0) }, count: count).wait()
        self.tunnel = tunnel
        let port = tunnel.localAddress?.port ?? tunnelPort
        try host.announceService("shadow", endpoint: "tcp://{host}:\(port)")
        let shared = virtualHosts.map { names in
            [names.httpPort.map { "HTTP port \($0)" }, names.tlsPort.map { "TLS port \($0)" }].compactMap { $0 }.joined(separator: " and ")
                + " for virtual hosts *.*.\(names.domain)"
        }
        host.log(.info, "shadow: tunnel port \(port), public ports \(publicPorts.lowerBound)-\(publicPorts.upperBound)" + (shared.map { ", \($0)" } ?? ""))
    }

    func stop() {
        try? host.withdrawService("shadow")
        try? tunnel?.close().wait()
        tunnel = nil
        for listener in sharedListeners { try? listener.close().wait() }
        sharedListeners = []
        relay?.closeAll()
        // Every connection closes, and its relay partner with it, while all the loops still run.
        for closed in relay?.openChannels.closeAll() ?? [] { try? closed.wait() }
        // The host-call threads finish their work first: it answers on the loops.
        try? hostCalls?.syncShutdownGracefully()
        hostCalls = nil
        // What opened meanwhile (an accept, a mapping's bind) was closed as it came: wait for it.
        for closed in relay?.openChannels.closedLate() ?? [] { try? closed.wait() }
        relay = nil
        try? group?.syncShutdownGracefully()
        group = nil
    }

    func health() -> (PluginHealth, String) {
        guard let tunnel, let relay else { return (.failing, "not serving") }
        return (.ok, "tunnel port \(tunnel.localAddress?.port ?? 0), \(relay.clientCount) clients connected")
    }
}

@_cdecl("carrier_plugin_entry_v1")
public func carrierPluginEntry(_ api: UnsafePointer<carrier_host_api_v1>?) -> UnsafePointer<carrier_plugin_v1>? {
    PluginExport.entry(ShadowPlugin.self, api)
}
