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
            --listen (default 0.0.0.0:39001), joins through each --bootstrap node, and serves the DHT. \
            The first line of output is this node's id; the second where it listens, as a line for others' --bootstrap.

            Example: carrier run --listen 127.0.0.1:39001 --allow-local
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
            let node = try await network.startNode(identity: keyPair, dataDirectory: dataDirectory.path, defaultListen: "0.0.0.0:39001")
            let endpoint = await node.localEndpoint!
            Console.line("Carrier node \(keyPair.publicKey.base58)")
            if endpoint.address.bytes.allSatisfy({ $0 == 0 }) {
                Console.line("listening on \(endpoint) (others join with --bootstrap \(keyPair.publicKey.base58)@<this host's address>:\(endpoint.port))")
            } else {
                Console.line("contact: \(keyPair.publicKey.base58)@\(endpoint)")
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
