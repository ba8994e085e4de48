import CarrierCore
import CarrierPluginABI
import Foundation

/// `carrier plugin-runner`: the child process that runs one plugin for a host with
/// `isolation = "process"`. It loads the library itself (checking the pin as the host would),
/// builds the same host-API table, and drives the plugin through the same `PluginInstance` as an
/// in-process plugin; every host-API call the plugin makes is carried to the host by
/// `RemotePluginServices`. The host owns time limits and kills a runner that overruns one, so the
/// runner itself never gives up on a call. Design: docs/process-isolation.md.
public final class PluginRunner: @unchecked Sendable {
    // @unchecked: `manifest`, `library`, `services`, `instance` and `dataDirectory` are set by
    // lifecycle requests, which the host sends one at a time and the runner serves one at a time.
    private let socket: RunnerSocket
    private var manifest: PluginManifest?
    private var library: PluginLibrary?
    private var services: RemotePluginServices?
    private var instance: PluginInstance?
    private var dataDirectory = ""
    /// Lifecycle requests run one after another, in arrival order.
    private let lifecycle = AsyncSerialQueue()

    private init(socket: RunnerSocket) {
        self.socket = socket
    }

    /// Serves the host on `descriptor` until it says `exit` or goes away; returns the exit status.
    public static func serve(descriptor: Int32) -> Int32 {
        // Not inherited by processes the plugin starts: the host must see EOF when this runner dies.
        _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC)
        let runner = PluginRunner(socket: RunnerSocket(descriptor: descriptor))
        let reason = runner.socket.receive { runner.handle($0) }
        runner.services?.fail()
        FileHandle.standardError.write(Data("carrier plugin-runner: the host connection ended (\(reason))\n".utf8))
        return 1
    }

    private func handle(_ message: RunnerMessage) {
        switch message.op {
        case "result": services?.deliver(message)
        case "event":
            if let value = try? message.value("value") { services?.deliverEvent(.valueUpdated(value)) }
            if let peer = try? message.peers("peers").first { services?.deliverEvent(.peerAnnounced(peer)) }
        case "exit": exit(0)
        default:
            lifecycle.enqueue { [self] in
                let answer: [String: CBOR]
                do { answer = try await serve(message) } catch { answer = ["error": .text("\(error)")] }
                socket.send(RunnerMessage("reply", id: message.id, answer))
            }
        }
    }

    private func serve(_ message: RunnerMessage) async throws -> [String: CBOR] {
        switch message.op {
        case "load":
            let manifest = try PluginManifest(runnerFields: message)
            let library = try PluginLibrary.load(manifest)
            self.manifest = manifest
            self.library = library
            dataDirectory = try message.text("data_directory")
            services = RemotePluginServices(nodeId: try message.id("node_id"), socket: socket)
            return ["version": .text(library.version), "capabilities": .unsigned(library.capabilities)]
        case "create":
            guard let manifest, let library, let services else { throw RunnerError("create before load") }
            instance = try await PluginInstance.create(manifest, library: library, services: services, dataDirectory: dataDirectory,
                                                       callLimit: .seconds(86_400))
            return [:]
        case "start":
            try await loaded().start()
            return [:]
        case "stop":
            try await loaded().stopAndDestroy()
            return [:]
        case "health":
            let (health, detail) = try await loaded().health()
            return ["health": .unsigned(UInt64(health.rawValue)), "detail": .text(detail)]
        case "settle":
            let status = try await loaded().settle(batchId: try message.unsigned("batch"), json: try message.text("json"))
            return ["status": .unsigned(UInt64(status.rawValue))]
        case "time":
            let instance = try loaded(), count = Int(try message.unsigned("count"))
            let elapsed = switch try message.text("call") {
            case "sign": instance.timeHostCalls(count, call: .sign)
            case "counter_add": instance.timeHostCalls(count, call: .counterAdd)
            case let other: throw RunnerError("no timing for \(other)")
            }
            return ["nanoseconds": .unsigned(elapsed.nanoseconds)]
        default:
            throw RunnerError("unknown request \"\(message.op)\"")
        }
    }

    private func loaded() throws -> PluginInstance {
        guard let instance else { throw RunnerError("no plugin instance (create first)") }
        return instance
    }
}

/// Runs async jobs one after another, in the order they were enqueued.
final class AsyncSerialQueue: Sendable {
    private let jobs: AsyncStream<@Sendable () async -> Void>.Continuation

    init() {
        let (stream, continuation) = AsyncStream<@Sendable () async -> Void>.makeStream()
        jobs = continuation
        Task { for await job in stream { await job() } }
    }

    func enqueue(_ job: @escaping @Sendable () async -> Void) { jobs.yield(job) }
}
