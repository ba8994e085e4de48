import CarrierDHT
import Foundation

/// The 10,000-node simulation of issue #3 (the same code as `carrier dht simulate`): production
/// routing table and lookup on an in-memory network with a virtual clock, at 0, 10 and 30 % churn.
enum SimulationBenchmark {
    static func printTable(nodes: Int = 10_000, lookups: Int = 1000, values: Int = 200) {
        let started = Date()
        let rows = ChurnExperiment.run(nodes: nodes, lookups: lookups, values: values, churnLevels: [0, 0.1, 0.3]) { line in
            FileHandle.standardError.write(Data("  \(line)\n".utf8))
        }
        print("")
        print("Simulated DHT: \(nodes) nodes, K = 16, alpha = 3, \(lookups) lookups and \(values) values per churn level "
              + String(format: "(%.0f s)", Date().timeIntervalSince(started)))
        for line in ChurnExperiment.table(rows) { print(line) }
    }
}
