import ArgumentParser
import Logging
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `carrier run`: starts a node. At this stage it loads or creates the identity, reports it and
/// waits for SIGINT or SIGTERM; the DHT and the plugin host will run here as they land.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a node until interrupted (Ctrl-C).",
        discussion: "Loads the node's identity from the data directory (creating it on first run) and logs it. The DHT and plugins are not started yet.")

    @OptionGroup var dataDirectory: DataDirectoryOptions

    func run() throws {
        // Block the stop signals before anything else (threads started later inherit the mask), so
        // they are always received by `sigwait` below and never kill the process half-way.
        var stopSignals = sigset_t()
        sigemptyset(&stopSignals)
        sigaddset(&stopSignals, SIGINT)
        sigaddset(&stopSignals, SIGTERM)
        pthread_sigmask(SIG_BLOCK, &stopSignals, nil)

        LoggingSystem.bootstrap(StreamLogHandler.standardError)
        let logger = Logger(label: "carrier.run")
        try reportingFailures {
            let (keyPair, created) = try dataDirectory.loadIdentity()
            if created { logger.notice("created a new identity", metadata: ["dataDir": "\(dataDirectory.path)"]) }
            Console.line("Carrier node \(keyPair.publicKey.base58)")
            Console.line("data directory: \(dataDirectory.path)")
            Console.line("press Ctrl-C to stop")
            var received: Int32 = 0
            sigwait(&stopSignals, &received)
            logger.info("stopping", metadata: ["signal": "\(received)"])
        }
    }
}
