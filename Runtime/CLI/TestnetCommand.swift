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
            other, and prints one bootstrap line ID@127.0.0.1:PORT as its first line of output. In \
            another terminal:

              carrier dht put hello --bootstrap <that line> --allow-local
              carrier dht get <printed id> --bootstrap <that line> --allow-local
            """)

    @Option(help: "How many nodes.") var nodes = 20
    @Option(help: "Port of the first node; the others follow (0 picks free ports).") var basePort: UInt16 = 39001
    @Option(name: .customLong("data-dir"), help: ArgumentHelp("Where the nodes keep their state (a folder per node).", valueName: "DIR"))
    var dataDirectory = "./.carrier/testnet"

    func validate() throws {
        guard (1...1000).contains(nodes) else { throw ValidationError("--nodes must be between 1 and 1000") }
    }

    func run() async throws {
        StopSignal.install()
        try await reportingFailures {
            var running: [DHTNode] = []
            for index in 0..<nodes {
                let port = basePort == 0 ? 0 : basePort &+ UInt16(index)
                var configuration = DHTNode.Configuration(listen: Endpoint(address: IPAddress("127.0.0.1")!, port: port),
                                                          dataDirectory: dataDirectory + "/node-\(index)")
                configuration.allowLocal = true
                do {
                    let identity = try IdentityFile.loadOrCreate(dataDirectory: configuration.dataDirectory).keyPair
                    let node = try DHTNode(identity: identity, configuration: configuration)
                    try await node.start()
                    running.append(node)
                } catch {
                    throw CommandFailure("node \(index) on port \(port): \(error)")
                }
            }
            let seed = await running[0].nodeInfo!
            for (index, node) in running.enumerated().dropFirst() {
                await node.bootstrap([seed])
                if index % 10 == 0 { Console.progress("\(index)/\(nodes) nodes joined") }
            }
            for node in running { _ = await node.findNode(node.id) }
            Console.line("\(seed.id)@\(seed.address):\(seed.port)")
            Console.progress("\(nodes) nodes running on 127.0.0.1; Ctrl-C stops them")
            _ = await StopSignal.wait()
            for node in running { await node.stop() }
        }
    }
}
