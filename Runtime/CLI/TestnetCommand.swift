import ArgumentParser
import CarrierCore
import CarrierDHT
import Foundation

/// `carrier testnet`: N nodes on 127.0.0.1 in one process, for trying the DHT in a minute.
struct TestnetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "testnet",
        abstract: "Run a local network of nodes on 127.0.0.1 until interrupted.",
        discussion: """
            Starts --nodes nodes on consecutive ports from --base-port, waits until they know each \
            other, and prints one bootstrap line ID@127.0.0.1:PORT as the first line of standard \
            output (progress goes to standard error). Ctrl-C stops it at any time. In another \
            terminal:

              carrier dht put hello --bootstrap <that line> --allow-local
              carrier dht get <printed id> --bootstrap <that line> --allow-local
            """)

    @Option(help: "How many nodes.") var nodes = 20
    @Option(help: "Port of the first node; the others follow (0 picks free ports).") var basePort: UInt16 = 39001
    @Option(name: .customLong("data-dir"), help: ArgumentHelp("Where the nodes keep their state: a folder per node for its identity and routing table, and one dht.sqlite that all share, each node's items under its id.", valueName: "DIR"))
    var dataDirectory = "./.carrier/testnet"

    func validate() throws {
        guard (1...1000).contains(nodes) else { throw ValidationError("--nodes must be between 1 and 1000") }
    }

    /// How many nodes join at once: enough that joining takes seconds, few enough that the lookups
    /// running at once, all starting from the seed and its contacts, stay a bounded load.
    static let joiningAtOnce = 16

    /// What the start-up and the stop signal report, whichever comes first.
    private enum Event: Sendable {
        case joined([DHTNode])
        case failed(CommandFailure)
        case stopped
    }

    func run() async throws {
        StopSignal.install()
        // Until every node has joined, Ctrl-C ends the process at once from the signal's thread:
        // 1,000 joining nodes can keep both cooperative threads busy for seconds.
        StopSignal.setImmediateAction { _ in
            Console.progress("interrupted before the network was up")
            Glibc.exit(0)
        }
        try await reportingFailures {
            // Ctrl-C is heard while the nodes start and join, not only once they have: it ends the
            // process at once, as nothing is worth keeping from a network only half up.
            let (events, continuation) = AsyncStream<Event>.makeStream()
            Task {
                _ = await StopSignal.wait()
                continuation.yield(.stopped)
            }
            Task {
                do {
                    let running = try await startNodes()
                    await join(running, through: await running[0].nodeInfo!)
                    continuation.yield(.joined(running))
                } catch {
                    continuation.yield(.failed(error as? CommandFailure ?? CommandFailure("\(error)")))
                }
            }
            var running: [DHTNode] = []
            events: for await event in events {
                switch event {
                case .joined(let nodes):
                    StopSignal.setImmediateAction(nil)
                    running = nodes
                    let seed = await nodes[0].nodeInfo!
                    Console.line("\(seed.id)@\(seed.address):\(seed.port)")
                    Console.progress("\(self.nodes) nodes running on 127.0.0.1; Ctrl-C stops them")
                case .failed(let failure):
                    throw failure
                case .stopped:
                    break events
                }
            }
            for node in running { await node.stop() }
        }
    }

    /// Binds every node before any joins, so a contact one remembers from the last run (same
    /// ports) answers. With --base-port 0 the ports are new: the routing tables they remember
    /// (`dht4.cache`) point at no node, and each such contact would cost a lookup its 2 s timeout,
    /// so they are dropped and every node starts afresh.
    private func startNodes() async throws -> [DHTNode] {
        var running: [DHTNode] = []
        // One store file for all nodes (each keeps its items under its id): their writes share
        // commits, and the process keeps one writer thread instead of one per node.
        try DataDirectory.create(dataDirectory)
        let store = try DHTStore(path: dataDirectory + "/dht.sqlite")
        for index in 0..<nodes {
            let port = basePort == 0 ? 0 : basePort &+ UInt16(index)
            var configuration = DHTNode.Configuration(listen: Endpoint(address: IPAddress("127.0.0.1")!, port: port),
                                                      dataDirectory: dataDirectory + "/node-\(index)")
            configuration.allowLocal = true
            configuration.store = store
            do {
                let identity = try IdentityFile.loadOrCreate(dataDirectory: configuration.dataDirectory).keyPair
                if basePort == 0 { try? FileManager.default.removeItem(atPath: configuration.dataDirectory + "/dht4.cache") }
                let node = try DHTNode(identity: identity, configuration: configuration)
                try await node.start()
                running.append(node)
            } catch {
                for node in running { await node.stop() }
                throw CommandFailure("node \(index) on port \(port): \(error)")
            }
        }
        return running
    }

    /// Joins every node but the seed through it, `joiningAtOnce` at a time, then has each look
    /// itself up once more so the early joiners learn of the later ones.
    private func join(_ running: [DHTNode], through seed: NodeInfo) async {
        var joined = 1
        for batch in stride(from: 1, to: running.count, by: Self.joiningAtOnce) {
            let nodes = running[batch..<min(batch + Self.joiningAtOnce, running.count)]
            await withTaskGroup(of: Void.self) { group in
                for node in nodes { group.addTask { _ = await node.bootstrap([seed]) } }
            }
            joined += nodes.count
            Console.progress("\(joined)/\(running.count) nodes joined")
        }
        for batch in stride(from: 0, to: running.count, by: Self.joiningAtOnce) {
            await withTaskGroup(of: Void.self) { group in
                for node in running[batch..<min(batch + Self.joiningAtOnce, running.count)] {
                    group.addTask { _ = await node.findNode(node.id) }
                }
            }
        }
    }
}
