import CarrierCore

/// The order in which a client tries the Shadow supernodes that answered a probe (docs/shadow.md,
/// "Discovery"), best first:
///
/// 1. those with public ports left before full ones (a full one is still tried last: it keeps a
///    returning client's ports);
/// 2. among those near the best score (at most 3 times it), the cheapest before the others: a
///    price within 10 % of the lowest counts as the lowest; prices are compared in the currency
///    most candidates use, and one in another currency, or none, counts as dearer. A distant
///    supernode cannot come first by its price alone;
/// 3. the score: the round trip lengthened by load, `roundTrip × (1 + 2 × load)`, so a supernode
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
        func score(_ candidate: Candidate) -> Double {
            candidate.probe.roundTrip.seconds * (1 + 2 * Double(candidate.probe.load) / 1000)
        }
        func full(_ candidate: Candidate) -> Bool { candidate.probe.load >= 1000 }
        let open = candidates.filter { !full($0) }
        let best = open.map(score).min() ?? 0
        let near = open.filter { score($0) <= best * 3 }
        // The currency most near candidates price in (ties: the first by name).
        let currencies = Dictionary(grouping: near.compactMap { $0.price?.currency }, by: { $0 })
        let currency = currencies.max { ($0.value.count, $1.key) < ($1.value.count, $0.key) }?.key
        let cheapest = near.compactMap(\.price).filter { $0.currency == currency }.map(\.micro).min()
        func cheap(_ candidate: Candidate) -> Bool {
            guard !full(candidate), score(candidate) <= best * 3 else { return false }
            guard let cheapest else { return true }
            guard let price = candidate.price, price.currency == currency else { return false }
            return Double(price.micro) <= Double(cheapest) * 1.1
        }
        return candidates.sorted { first, second in
            if full(first) != full(second) { return !full(first) }
            if cheap(first) != cheap(second) { return cheap(first) }
            return score(first) < score(second)
        }
    }
}
