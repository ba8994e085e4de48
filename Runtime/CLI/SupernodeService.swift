import CarrierHost
import Logging
import ServiceLifecycle
import UnixSignals

/// `carrier run --manifests DIR` as a swift-service-lifecycle service: starts the supernode,
/// reports it (`started`), reloads the manifests on every SIGHUP, and at the group's graceful
/// shutdown (SIGINT or SIGTERM, even one that arrived during the start) stops it in order:
/// admin endpoint, receipts, plugins, billing, then the node.
struct SupernodeService: Service {
    let directory: String
    let started: @Sendable (Supernode) async -> Void
    private let logger = Logger(label: "carrier.run")

    init(directory: String, started: @escaping @Sendable (Supernode) async -> Void) {
        self.directory = directory
        self.started = started
    }

    func run() async throws {
        // SIGHUP is caught from before the start: one that arrives meanwhile reloads once started.
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        let supernode = try await Supernode.start(manifestsDirectory: directory)
        await started(supernode)
        let directory = self.directory, logger = self.logger
        await cancelWhenGracefulShutdown {
            for await _ in hangups {
                do {
                    try await supernode.reload()
                    logger.notice("manifests reloaded", metadata: ["folder": "\(directory)"])
                } catch {
                    logger.error("manifests not reloaded; the running plugins are unchanged", metadata: ["error": "\(error)"])
                }
            }
        }
        logger.info("stopping")
        await supernode.stop()
    }

    /// Runs the service until SIGINT or SIGTERM asks for a graceful shutdown.
    static func runUntilStopped(_ service: SupernodeService) async throws {
        var logger = Logger(label: "carrier.lifecycle")
        logger.logLevel = .warning
        try await ServiceGroup(services: [service], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger).run()
    }
}
