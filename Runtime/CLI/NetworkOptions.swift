import ArgumentParser
import CarrierCore
import CarrierDHT

/// `--listen`, `--bootstrap` and `--allow-local`: how a command reaches the DHT.
struct NetworkOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Address and UDP port to listen on (port 0 picks a free one).", valueName: "HOST:PORT"))
    var listen: String?

    @Option(name: .customLong("bootstrap"), help: ArgumentHelp(
        "A node to join through, as printed by `carrier run` or `carrier testnet` (repeatable).", valueName: "ID@HOST:PORT"))
    var bootstrapNodes: [String] = []

    @Flag(help: "Accept loopback and private addresses (local testnets).")
    var allowLocal = false

    /// The parsed bootstrap nodes; refuses malformed ones and local addresses without --allow-local.
    func bootstrap() throws -> [NodeInfo] {
        try bootstrapNodes.map { text in
            guard let at = text.firstIndex(of: "@"), let id = Id(String(text[..<at])),
                  let endpoint = Endpoint(String(text[text.index(after: at)...])) else {
                throw CommandFailure("--bootstrap \(text): expected ID@HOST:PORT (e.g. HZXXs9LT…@155.138.245.211:39001)")
            }
            guard allowLocal || endpoint.address.isGlobalUnicast else {
                throw CommandFailure("--bootstrap \(text): \(endpoint.address) is a local address; add --allow-local for a local network")
            }
            return NodeInfo(id: id, address: endpoint.address, port: endpoint.port)
        }
    }

    /// The listen endpoint: --listen, or `fallback`.
    func listenEndpoint(default fallback: String) throws -> Endpoint {
        let text = listen ?? fallback
        guard let endpoint = Endpoint(text) else { throw CommandFailure("--listen \(text): expected HOST:PORT with a numeric address") }
        return endpoint
    }

    /// Starts a node with `identity`, storage under `dataDirectory`, joined through the bootstrap nodes.
    func startNode(identity: KeyPair, dataDirectory: String, defaultListen: String) async throws -> DHTNode {
        let bootstrap = try self.bootstrap()
        let fallback = bootstrap.first.map { $0.address.isIPv4 ? "0.0.0.0:0" : "[::]:0" } ?? defaultListen
        var configuration = DHTNode.Configuration(listen: try listenEndpoint(default: fallback), dataDirectory: dataDirectory)
        configuration.allowLocal = allowLocal
        let node: DHTNode
        do {
            node = try DHTNode(identity: identity, configuration: configuration)
            try await node.start()
        } catch {
            throw CommandFailure("cannot start a node on \(configuration.listen): \(error)")
        }
        if !bootstrap.isEmpty { await node.bootstrap(bootstrap) }
        return node
    }
}
