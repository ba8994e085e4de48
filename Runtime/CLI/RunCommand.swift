import ArgumentParser
import CarrierCore
import CarrierDHT
import CarrierHost
import Logging

/// `carrier run`: runs a DHT node until SIGINT or SIGTERM.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a node until interrupted (Ctrl-C).",
        discussion: """
            Loads the node's identity from the data directory (creating it on first run), listens on \
            each --listen (default 0.0.0.0:39001 and [::]:39001: one DHT per address family, one identity), \
            joins through each --bootstrap node, and serves the DHT. The first line of output is this \
            node's id; then one line per socket saying where it listens, as a line for others' --bootstrap.

            Examples:
              carrier run --listen 127.0.0.1:39001 --allow-local
              carrier run --listen 0.0.0.0:39001 --listen [::]:39001 --bootstrap ID@HOST:39001
            """)

    @OptionGroup var dataDirectory: DataDirectoryOptions
    @OptionGroup var network: NetworkOptions
    @Option(help: ArgumentHelp("Run a supernode: node.toml and the plugin manifests in this folder.", valueName: "DIR"))
    var manifests: String?

    func validate() throws {
        guard manifests == nil || (network.listen.isEmpty && network.bootstrapNodes.isEmpty && !network.allowLocal) else {
            throw ValidationError("--manifests takes the node's settings from node.toml; drop --listen, --bootstrap and --allow-local")
        }
    }

    func run() async throws {
        // A supernode's signals are its service group's (SupernodeService); a plain node's are caught
        // first thing here.
        if manifests == nil { StopSignal.install() }
        LoggingSystem.bootstrap(StreamLogHandler.standardError)
        // A server's clients each hold a descriptor: use what the system allows, not the 1,024
        // soft default (plugin runners inherit it).
        FileDescriptorLimit.raiseToHard()
        if let manifests { return try await runSupernode(manifests) }
        let logger = Logger(label: "carrier.run")
        try await reportingFailures {
            let (keyPair, created) = try dataDirectory.loadIdentity()
            if created { logger.notice("created a new identity", metadata: ["dataDir": "\(dataDirectory.path)"]) }
            let node = try await network.startNode(identity: keyPair, dataDirectory: dataDirectory.path, defaultPort: 39001)
            Console.line("Carrier node \(keyPair.publicKey.base58)")
            printContacts(keyPair.publicKey, await node.localEndpoints)
            Console.line("data directory: \(dataDirectory.path)")
            let contacts = await node.contacts.count
            logger.info("serving", metadata: ["contacts": "\(contacts)"])
            let signal = await StopSignal.wait()
            logger.info("stopping", metadata: ["signal": "\(signal)"])
            await node.stop()
        }
    }

    /// `--manifests DIR`: the supernode with its plugins until SIGINT/SIGTERM; SIGHUP reloads.
    private func runSupernode(_ directory: String) async throws {
        try await reportingFailures {
            try await SupernodeService.runUntilStopped(SupernodeService(directory: directory) { supernode in
                let id = supernode.node.id
                Console.line("Carrier supernode \(id.base58)")
                printContacts(id, await supernode.node.localEndpoints)
                Console.line("data directory: \(supernode.configuration.dataDirectory)")
                if let admin = await supernode.admin { Console.line("admin: http://\(admin.localEndpoint)/status") }
                for plugin in await supernode.plugins.status {
                    Console.line("plugin \(plugin.id): \(plugin.state.rawValue)" + (plugin.error.map { " (\($0))" } ?? ""))
                }
            })
        }
    }

    /// One line per socket: the contact others pass to --bootstrap, or, for a wildcard address,
    /// where it listens and how to form the contact.
    private func printContacts(_ id: Id, _ endpoints: [Endpoint]) {
        for endpoint in endpoints {
            if endpoint.address.bytes.allSatisfy({ $0 == 0 }) {
                let host = endpoint.family == .ipv4 ? "<this host's IPv4 address>" : "[<this host's IPv6 address>]"
                Console.line("listening on \(endpoint) (others join with --bootstrap \(id.base58)@\(host):\(endpoint.port))")
            } else {
                Console.line("contact: \(id.base58)@\(endpoint)")
            }
        }
    }
}
