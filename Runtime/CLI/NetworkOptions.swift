import ArgumentParser
import CarrierCore
import CarrierDHT

/// `--listen`, `--bootstrap` and `--allow-local`: how a command reaches the DHT.
struct NetworkOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "Address and UDP port to listen on; once for IPv4 and once for IPv6 to serve both (port 0 picks a free one).",
        valueName: "HOST:PORT"))
    var listen: [String] = []

    @Option(name: .customLong("bootstrap"), help: ArgumentHelp(
        "A node to join through, as printed by `carrier run` or `carrier testnet` (repeatable).", valueName: "ID@HOST:PORT"))
    var bootstrapNodes: [String] = []

    @Flag(help: "Accept loopback and private addresses (local testnets).")
    var allowLocal = false

    /// The parsed bootstrap nodes; refuses malformed ones and local addresses without --allow-local.
    func bootstrap() throws -> [NodeInfo] {
        try bootstrapNodes.map { text in
            guard let node = NodeInfo(contact: text) else {
                throw CommandFailure("--bootstrap \(text): expected ID@HOST:PORT (e.g. HZXXs9LT…@155.138.245.211:39001)")
            }
            guard allowLocal || node.address.isGlobalUnicast else {
                throw CommandFailure("--bootstrap \(text): \(node.address) is a local address; add --allow-local for a local network")
            }
            return node
        }
    }

    /// The listen endpoints: each --listen, or else `defaults`.
    func listenEndpoints(default defaults: [String]) throws -> [Endpoint] {
        try (listen.isEmpty ? defaults : listen).map { text in
            guard let endpoint = Endpoint(text) else { throw CommandFailure("--listen \(text): expected HOST:PORT or [IPv6]:PORT with a numeric address") }
            return endpoint
        }
    }

    /// Starts a node with `identity`, storage under `dataDirectory`, joined through the bootstrap
    /// nodes. Without --listen it listens on IPv4 and IPv6 at `port`; a client (`port` 0) listens
    /// only in the families of its bootstrap nodes. When a default IPv6 socket
    /// cannot be opened (a host without IPv6), it serves IPv4 alone and says so.
    func startNode(identity: KeyPair, dataDirectory: String, defaultPort port: UInt16) async throws -> DHTNode {
        let bootstrap = try self.bootstrap()
        var families: [AddressFamily] = [.ipv4, .ipv6]
        if port == 0, !bootstrap.isEmpty {
            let bootstrapFamilies = Set(bootstrap.map { Endpoint(address: $0.address, port: $0.port).family })
            families = families.filter(bootstrapFamilies.contains)
        }
        let defaults = families.map { $0 == .ipv4 ? "0.0.0.0:\(port)" : "[::]:\(port)" }
        var configuration = DHTNode.Configuration(listen: try listenEndpoints(default: defaults), dataDirectory: dataDirectory)
        configuration.allowLocal = allowLocal
        let node: DHTNode
        do {
            node = try await DHTNode.start(identity: identity, configuration: configuration, ipv6Optional: listen.isEmpty)
        } catch {
            throw CommandFailure("cannot start a node: \(error)")
        }
        if !bootstrap.isEmpty { await node.bootstrap(bootstrap) }
        return node
    }
}
