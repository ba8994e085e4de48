import CarrierCore
import Foundation

/// The simulation experiment of issue #3: for each churn level, build a network, store values,
/// replace a share of the nodes, then measure lookups and value retrieval before and after the
/// publishers republish.
public enum ChurnExperiment {
    /// One churn level's figures.
    public struct Row: Sendable, Codable {
        /// Share of nodes replaced (0.1 = 10 %).
        public var churn: Double
        public var nodes: Int
        public var lookups: Int
        /// Share of lookups whose first result is the true closest live node.
        public var closestFound: Double
        /// Share of lookups whose result is exactly the true K closest live nodes.
        public var kClosestFound: Double
        public var requestsPerLookup: Double
        public var roundsPerLookup: Double
        /// Share of stored values a FIND_VALUE still finds after churn, before any republish.
        public var valuesFoundAfterChurn: Double
        /// The same after the publishers republished.
        public var valuesFoundAfterRepublish: Double
    }

    /// Runs the experiment; `progress` receives a line per phase.
    public static func run(nodes: Int, lookups: Int, values: Int, churnLevels: [Double],
                           parameters: SimulatedNetwork.Parameters = .init(), progress: (String) -> Void = { _ in }) -> [Row] {
        churnLevels.map { churn in
            var network = SimulatedNetwork(parameters: parameters)
            for joined in 0..<nodes {
                network.join()
                if (joined + 1) % max(1, nodes / 10) == 0 { progress("churn \(percent(churn)): \(joined + 1)/\(nodes) nodes joined") }
            }
            var random = SplitMix64(seed: parameters.seed &+ 7)
            let valueIds = (0..<values).map { _ in Id(bytes: (0..<32).map { _ in UInt8.random(in: 0...255, using: &random) })! }
            for id in valueIds { network.store(valueId: id) }
            network.churn(churn)
            progress("churn \(percent(churn)): \(values) values stored, \(percent(churn)) of nodes replaced; measuring")

            var closest = 0, kClosest = 0, requests = 0, rounds = 0
            for _ in 0..<lookups {
                let target = Id(bytes: (0..<32).map { _ in UInt8.random(in: 0...255, using: &random) })!
                let result = network.lookup(target: target)
                let truth = network.trueClosest(to: target, count: parameters.k)
                if result.closest.first?.id == truth.first { closest += 1 }
                if result.closest.map(\.id) == truth { kClosest += 1 }
                requests += result.requests
                rounds += result.rounds
            }
            let foundAfterChurn = valueIds.filter { network.findValue($0).foundValue }.count
            for id in valueIds { network.store(valueId: id) }
            let foundAfterRepublish = valueIds.filter { network.findValue($0).foundValue }.count
            return Row(churn: churn, nodes: nodes, lookups: lookups,
                       closestFound: Double(closest) / Double(max(1, lookups)),
                       kClosestFound: Double(kClosest) / Double(max(1, lookups)),
                       requestsPerLookup: Double(requests) / Double(max(1, lookups)),
                       roundsPerLookup: Double(rounds) / Double(max(1, lookups)),
                       valuesFoundAfterChurn: Double(foundAfterChurn) / Double(max(1, values)),
                       valuesFoundAfterRepublish: Double(foundAfterRepublish) / Double(max(1, values)))
        }
    }

    /// The rows as a text table (a header line, then one line per churn level).
    public static func table(_ rows: [Row]) -> [String] {
        ["churn  true closest  true K closest  RPCs/lookup  rounds/lookup  values found after churn  after republish"]
            + rows.map { row in
                String(format: "%4.0f %%  %10.1f %%  %12.1f %%  %11.1f  %13.2f  %22.1f %%  %13.1f %%",
                       row.churn * 100, row.closestFound * 100, row.kClosestFound * 100, row.requestsPerLookup,
                       row.roundsPerLookup, row.valuesFoundAfterChurn * 100, row.valuesFoundAfterRepublish * 100)
            }
    }

    private static func percent(_ share: Double) -> String { "\(Int((share * 100).rounded())) %" }
}
