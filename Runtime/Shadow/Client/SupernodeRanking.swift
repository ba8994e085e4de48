import CarrierCore

/// The order in which a client tries the Shadow supernodes that answered a probe (docs/shadow.md,
/// "Discovery"), best first:
///
/// 1. those with public ports left before full ones (a full one is still tried last: it keeps a
///    returning client's ports);
/// 2. the cheapest before the others: a price within 10 % of the lowest counts as the lowest; a
///    price in another currency than the lowest's, or none, counts as dearer;
/// 3. the shortest round trip, lengthened by load: `roundTrip × (1 + 2 × load)`, so a supernode
///    half full must answer twice as fast as an empty one to come first.
///
/// ```swift
/// let order = SupernodeRanking.ranked(candidates)   // try order[0], then order[1]...
/// ```
public enum SupernodeRanking {
    /// One supernode that answered, with what its service record says relaying costs.
    public struct Candidate: Sendable, Equatable {
        public var probe: SupernodeProbe
        /// Its price of relaying 1 GB over one hour of connection beyond the free allowance, from
        /// its record's prices (`price(of:)`); nil when the record has none.
        public var price: Price?

        public init(probe: SupernodeProbe, price: Price?) {
            self.probe = probe
            self.price = price
        }
    }

    /// An amount in micro-units of `currency`.
    public struct Price: Sendable, Equatable {
        public var micro: UInt64
        public var currency: String

        public init(micro: UInt64, currency: String) {
            self.micro = micro
            self.currency = currency
        }
    }

    /// What 1 GB relayed over one hour of connection costs beyond the free allowance on the plan
    /// `prices` describe (Shadow's meters `bytes_relayed` and `connection_seconds`; an unpriced
    /// meter is free). Nil without prices.
    public static func price(of prices: ServiceRecord.Prices?) -> Price? {
        guard let prices else { return nil }
        let bytes = prices.meters["bytes_relayed"]?.microPrice ?? 0, seconds = prices.meters["connection_seconds"]?.microPrice ?? 0
        let (perGB, overGB) = bytes.multipliedReportingOverflow(by: 1_000_000_000)
        let (perHour, overHour) = seconds.multipliedReportingOverflow(by: 3_600)
        let (sum, overSum) = perGB.addingReportingOverflow(perHour)
        return Price(micro: overGB || overHour || overSum ? .max : sum, currency: prices.currency)
    }

    /// `candidates` in the order to try them.
    public static func ranked(_ candidates: [Candidate]) -> [Candidate] {
        let cheapest = candidates.compactMap(\.price).min { $0.micro < $1.micro }
        func cheap(_ candidate: Candidate) -> Bool {
            guard let cheapest, let price = candidate.price else { return cheapest == nil }
            return price.currency == cheapest.currency && Double(price.micro) <= Double(cheapest.micro) * 1.1
        }
        func score(_ candidate: Candidate) -> Double {
            let seconds = Double(candidate.probe.roundTrip.components.seconds) + Double(candidate.probe.roundTrip.components.attoseconds) / 1e18
            return seconds * (1 + 2 * Double(candidate.probe.load) / 1000)
        }
        return candidates.sorted { first, second in
            let full = (first.probe.load >= 1000, second.probe.load >= 1000)
            if full.0 != full.1 { return !full.0 }
            let cheapness = (cheap(first), cheap(second))
            if cheapness.0 != cheapness.1 { return cheapness.0 }
            return score(first) < score(second)
        }
    }
}
