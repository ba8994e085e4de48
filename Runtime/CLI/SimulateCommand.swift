import ArgumentParser
import CarrierDHT
import Foundation

/// `carrier dht simulate`: the routing and lookup code on an in-memory network with a virtual clock.
struct SimulateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Measure lookups and value retrieval on a simulated network under churn.",
        discussion: """
            Builds a network of --nodes nodes (each joins by looking itself up), stores --values \
            values, replaces the given share of nodes, then runs --lookups lookups for random targets \
            and compares each result with the true closest live nodes. Uses the production routing \
            table and lookup; no sockets. Deterministic for a given --seed.

            Example: carrier dht simulate --nodes 10000 --churn 0,0.1,0.3
            """)

    @Option(help: "Nodes in the network.") var nodes = 10_000
    @Option(help: "Lookups measured per churn level.") var lookups = 1000
    @Option(help: "Values stored before churn.") var values = 200
    @Option(help: ArgumentHelp("Shares of nodes replaced, comma-separated.", valueName: "LIST")) var churn = "0,0.1,0.3"
    @Option(help: "Bucket size and result size (K).") var k = 16
    @Option(help: "Lookup concurrency.") var alpha = 3
    @Option(help: "Random seed.") var seed: UInt64 = 1
    @Flag(help: "Print the rows as JSON for scripts.") var json = false

    func validate() throws {
        guard nodes >= 2, lookups >= 1, values >= 0, k >= 1, alpha >= 1 else {
            throw ValidationError("--nodes must be at least 2; --lookups, --k and --alpha at least 1")
        }
        guard churnLevels != nil else { throw ValidationError("--churn must be comma-separated shares between 0 and 1, e.g. 0,0.1,0.3") }
    }

    private var churnLevels: [Double]? {
        let levels = churn.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard !levels.isEmpty, levels.allSatisfy({ $0 != nil && (0...1).contains($0!) }) else { return nil }
        return levels.map { $0! }
    }

    func run() throws {
        var parameters = SimulatedNetwork.Parameters()
        parameters.k = k
        parameters.alpha = alpha
        parameters.seed = seed
        let started = Date()
        let rows = ChurnExperiment.run(nodes: nodes, lookups: lookups, values: values, churnLevels: churnLevels!,
                                       parameters: parameters) { Console.progress($0) }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(rows), as: UTF8.self))
            return
        }
        print("Simulated DHT: \(nodes) nodes, K = \(k), alpha = \(alpha), \(lookups) lookups and \(values) values per churn level")
        for line in ChurnExperiment.table(rows) { print(line) }
        print(String(format: "(%.0f s)", Date().timeIntervalSince(started)))
    }
}
