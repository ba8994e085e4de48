import ArgumentParser
import CarrierDHT
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

    func run() async throws {
        StopSignal.install()
        LoggingSystem.bootstrap(StreamLogHandler.standardError)
        let logger = Logger(label: "carrier.run")
        try await reportingFailures {
            let (keyPair, created) = try dataDirectory.loadIdentity()
            if created { logger.notice("created a new identity", metadata: ["dataDir": "\(dataDirectory.path)"]) }
            let node = try await network.startNode(identity: keyPair, dataDirectory: dataDirectory.path, defaultPort: 39001)
            Console.line("Carrier node \(keyPair.publicKey.base58)")
            for endpoint in await node.localEndpoints {
                if endpoint.address.bytes.allSatisfy({ $0 == 0 }) {
                    let host = endpoint.family == .ipv4 ? "<this host's IPv4 address>" : "[<this host's IPv6 address>]"
                    Console.line("listening on \(endpoint) (others join with --bootstrap \(keyPair.publicKey.base58)@\(host):\(endpoint.port))")
                } else {
                    Console.line("contact: \(keyPair.publicKey.base58)@\(endpoint)")
                }
            }
            Console.line("data directory: \(dataDirectory.path)")
            let contacts = await node.contacts.count
            logger.info("serving", metadata: ["contacts": "\(contacts)"])
            let signal = await StopSignal.wait()
            logger.info("stopping", metadata: ["signal": "\(signal)"])
            await node.stop()
        }
    }
}
