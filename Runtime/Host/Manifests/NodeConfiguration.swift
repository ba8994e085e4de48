import CarrierCore
import CarrierDHT
import Foundation

/// The supernode's own configuration (`Manifests/node.toml`): where it listens, whom it joins
/// through, where its data lives, and where the admin endpoint listens. Plugin manifests are the
/// other `*.toml` files of the same folder.
///
/// ```toml
/// data_dir = "../.carrier/node"            # relative to this file
/// listen = ["0.0.0.0:39001", "[::]:39001"]
/// bootstrap = ["ID@HOST:PORT"]
/// allow_local = false
/// admin = "127.0.0.1:39080"
/// public_host = "203.0.113.7"              # what {host} becomes in announced endpoints
///
/// [rate_limits]                            # the DHT's per-source-unit limits (docs/decisions.md)
/// inbound = 32                             # datagrams a second from a source that never answered us
/// inbound_burst = 512
/// contact_inbound = 2048                   # the same from one that answered us in the last 30 min
/// contact_inbound_burst = 4096
/// outbound = 1024                          # requests a second sent to one source
/// outbound_burst = 1024
/// ```
public struct NodeConfiguration: Sendable, Equatable {
    public var file: String
    public var dataDirectory: String
    public var listen: [Endpoint]
    /// Whether `listen` was left to its default (then a host without IPv6 serves IPv4 alone).
    public var listenIsDefault: Bool
    public var bootstrap: [NodeInfo]
    public var allowLocal: Bool
    /// The admin HTTP endpoint (loopback by default).
    public var admin: Endpoint
    /// The address clients should use, put into announced service endpoints (`{host}`): the
    /// IPv4 listen address unless it is 0.0.0.0, else 127.0.0.1 until the operator sets it.
    public var publicHost: String
    /// The DHT's rate limits per source unit (`[rate_limits]`).
    public var rateLimits: RateLimits

    /// The DHT's rate limits per source unit, each a rate and a burst; the defaults are the DHT's
    /// (`DHTNode.Configuration` explains each).
    public struct RateLimits: Sendable, Equatable {
        /// From a source that has not answered us.
        public var inbound: Double
        public var inboundBurst: Double
        /// From an endpoint that answered one of our requests recently.
        public var contactInbound: Double
        public var contactInboundBurst: Double
        /// Our requests to one destination.
        public var outbound: Double
        public var outboundBurst: Double

        public init(inbound: Double, inboundBurst: Double, contactInbound: Double, contactInboundBurst: Double,
                    outbound: Double, outboundBurst: Double) {
            self.inbound = inbound
            self.inboundBurst = inboundBurst
            self.contactInbound = contactInbound
            self.contactInboundBurst = contactInboundBurst
            self.outbound = outbound
            self.outboundBurst = outboundBurst
        }

        public static let defaults: RateLimits = {
            let dht = DHTNode.Configuration(listen: [], dataDirectory: "")
            return RateLimits(inbound: dht.inboundRate, inboundBurst: dht.inboundBurst, contactInbound: dht.contactInboundRate,
                              contactInboundBurst: dht.contactInboundBurst, outbound: dht.outboundRate, outboundBurst: dht.outboundBurst)
        }()

        /// The `node.toml` key of each limit.
        static var keys: [(String, WritableKeyPath<RateLimits, Double>)] { [
            ("inbound", \.inbound), ("inbound_burst", \.inboundBurst), ("contact_inbound", \.contactInbound),
            ("contact_inbound_burst", \.contactInboundBurst), ("outbound", \.outbound), ("outbound_burst", \.outboundBurst),
        ] }

        /// Applies the limits to a DHT node's configuration.
        public func apply(to configuration: inout DHTNode.Configuration) {
            configuration.inboundRate = inbound
            configuration.inboundBurst = inboundBurst
            configuration.contactInboundRate = contactInbound
            configuration.contactInboundBurst = contactInboundBurst
            configuration.outboundRate = outbound
            configuration.outboundBurst = outboundBurst
        }
    }

    public static let defaultListen = ["0.0.0.0:39001", "[::]:39001"]
    public static let defaultAdmin = "127.0.0.1:39080"

    /// Reads and validates the node configuration at `path`.
    public static func load(_ path: String) throws(ManifestError) -> NodeConfiguration {
        try parse(StrictTable.text(of: path), file: path)
    }

    public static func parse(_ text: String, file: String) throws(ManifestError) -> NodeConfiguration {
        var table = try StrictTable.parse(text, file: file)
        let directory = URL(fileURLWithPath: file).deletingLastPathComponent()
        let dataDirectory = try table.string("data_dir") ?? ".carrier/node"
        var listen: [Endpoint] = []
        let listenTexts = try table.strings("listen")
        for (index, text) in (listenTexts ?? defaultListen).enumerated() {
            guard let endpoint = Endpoint(text) else { throw table.error("listen[\(index)]", "expected HOST:PORT or [IPv6]:PORT, found \"\(text)\"") }
            listen.append(endpoint)
        }
        guard !listen.isEmpty, Set(listen.map(\.family)).count == listen.count else {
            throw table.error("listen", "give one IPv4 and/or one IPv6 endpoint")
        }
        let allowLocal = try table.bool("allow_local") ?? false
        var bootstrap: [NodeInfo] = []
        for (index, text) in (try table.strings("bootstrap") ?? []).enumerated() {
            guard let node = NodeInfo(contact: text) else { throw table.error("bootstrap[\(index)]", "expected ID@HOST:PORT, found \"\(text)\"") }
            guard allowLocal || node.address.isGlobalUnicast else {
                throw table.error("bootstrap[\(index)]", "\(node.address) is a local address; set allow_local = true for a local network")
            }
            bootstrap.append(node)
        }
        let adminText = try table.string("admin") ?? defaultAdmin
        guard let admin = Endpoint(adminText) else { throw table.error("admin", "expected HOST:PORT, found \"\(adminText)\"") }
        let ipv4 = listen.first { $0.family == .ipv4 && !$0.address.bytes.allSatisfy { $0 == 0 } }
        let publicHost = try table.string("public_host") ?? ipv4.map { "\($0.address)" } ?? "127.0.0.1"
        guard !publicHost.isEmpty, !publicHost.contains("/") else { throw table.error("public_host", "expected a host name or address") }
        var limits = RateLimits.defaults
        if var section = try table.table("rate_limits") {
            for (key, path) in RateLimits.keys {
                guard let number = try section.number(key) else { continue }
                guard number >= 1, number <= 1_000_000 else { throw section.error(key, "must be from 1 to 1000000, found \(number)") }
                limits[keyPath: path] = number
            }
            try section.rejectUnknownKeys()
        }
        try table.rejectUnknownKeys()
        let dataPath = dataDirectory.hasPrefix("/") ? dataDirectory : directory.appendingPathComponent(dataDirectory).standardizedFileURL.path
        return NodeConfiguration(file: file, dataDirectory: dataPath, listen: listen, listenIsDefault: listenTexts == nil, bootstrap: bootstrap,
                                 allowLocal: allowLocal, admin: admin, publicHost: publicHost, rateLimits: limits)
    }
}
