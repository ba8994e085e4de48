/// A local service a node exposes: a mapping name and where the service listens.
public struct ShadowService: Sendable, Equatable {
    public var name: String
    public var transport: MappingProtocol
    /// The local address the relayed connections go to (e.g. 127.0.0.1:8080).
    public var targetHost: String
    public var targetPort: Int
    /// Sources the public port admits (empty: all not denied) and refuses.
    public var allow: [SourceRange] = []
    public var deny: [SourceRange] = []

    public init(name: String, transport: MappingProtocol = .tcp, targetHost: String, targetPort: Int) {
        self.name = name
        self.transport = transport
        self.targetHost = targetHost
        self.targetPort = targetPort
    }

    /// What the client asks the supernode for.
    public var request: MappingRequest {
        MappingRequest(name: name, transport: transport, allow: allow, deny: deny)
    }

    /// Parses `tcp://HOST:PORT` or `udp://HOST:PORT` (without a scheme, `transport`).
    public init?(name: String, target: String, transport: MappingProtocol = .tcp) {
        var rest = Substring(target), transport = transport
        for scheme in [MappingProtocol.tcp, .udp] where rest.hasPrefix(scheme.rawValue + "://") {
            transport = scheme
            rest = rest.dropFirst(6)
        }
        guard let colon = rest.lastIndex(of: ":"), let port = Int(rest[rest.index(after: colon)...]), (1...65535).contains(port) else { return nil }
        var host = String(rest[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { return nil }
        self.init(name: name, transport: transport, targetHost: host, targetPort: port)
    }
}

/// A supernode to expose through: its node id (from the signed service record) and tunnel address.
public struct ShadowSupernode: Sendable, Equatable {
    public var id: CarrierCore.Id
    public var host: String
    public var port: Int

    public init(id: CarrierCore.Id, host: String, port: Int) {
        self.id = id
        self.host = host
        self.port = port
    }
}

/// A mapping as the world reaches it.
public struct PublicEndpoint: Sendable, Equatable, CustomStringConvertible {
    public var name: String
    public var transport: MappingProtocol
    public var host: String
    public var port: UInt16
    /// The mapping's HTTP virtual host on the supernode's shared HTTP port, when it has one.
    public var http: String? = nil
    /// Its name on the supernode's shared TLS port (as an https:// URL), when it has one.
    public var https: String? = nil

    public var description: String {
        "\(transport.rawValue)://\(host.contains(":") ? "[\(host)]" : host):\(port)"
    }
}

import CarrierCore
