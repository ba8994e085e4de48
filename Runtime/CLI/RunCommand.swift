import ArgumentParser
import Logging
#if canImport(Glibc)
import Glibc
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
        LoggingSystem.bootstrap(StreamLogHandler.standardError)
        let logger = Logger(label: "carrier.run")
        try reportingFailures {
            let (keyPair, created) = try dataDirectory.loadIdentity()
            if created { logger.notice("created a new identity", metadata: ["dataDir": "\(dataDirectory.path)"]) }
            Console.line("Carrier node \(keyPair.publicKey.base58)")
            Console.line("data directory: \(dataDirectory.path)")
            Console.line("press Ctrl-C to stop")
            let signal = waitForTermination()
            logger.info("stopping", metadata: ["signal": "\(signal)"])
        }
    }

    /// Blocks until SIGINT or SIGTERM arrives and returns its number.
    private func waitForTermination() -> Int32 {
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGINT)
        sigaddset(&signals, SIGTERM)
        pthread_sigmask(SIG_BLOCK, &signals, nil)
        var received: Int32 = 0
        sigwait(&signals, &received)
        return received
    }
}
