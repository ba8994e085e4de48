import CarrierCore
/// A manifest's `[billing]` section: the plans an operator offers for a plugin's meters.
///
/// ```toml
/// [billing]
/// currency = "credit"
/// default_plan = "free"
/// [billing.plans.free]
/// period = "30d"
/// [billing.plans.free.meters.requests]
/// free = 10000       # units free per period
/// price = 0.001      # per unit beyond the free ones, in `currency`
/// limit = 50000      # hard limit per period (optional)
/// ```
///
/// A plugin without a billing section, or a meter no plan prices, is free and unlimited.
public struct BillingSection: Sendable, Equatable {
    /// The price of one meter in one plan.
    public struct MeterPrice: Sendable, Equatable {
        public var freeUnits: Int
        public var pricePerUnit: Double
        public var limit: Int?
    }

    /// One plan: a period and per-meter prices.
    public struct Plan: Sendable, Equatable {
        /// Period length in seconds.
        public var periodSeconds: Int
        public var meters: [String: MeterPrice]
    }

    public var currency = "credit"
    public var defaultPlan: String?
    public var plans: [String: Plan] = [:]

    public init() {}

    /// The plan a client on `assigned` is billed by here: `assigned` when this section has a plan
    /// of that name, else the default plan (nil without plans).
    public func planName(assigned: String?) -> String? {
        assigned.flatMap { plans[$0] != nil ? $0 : nil } ?? defaultPlan
    }

    init(_ table: StrictTable) throws(ManifestError) {
        var table = table
        currency = try table.string("currency") ?? "credit"
        guard ServiceRecord.Prices.isValidCurrency(currency) else {
            throw table.error("currency", "\"\(currency)\" is not a currency name (1 to 16 of letters, digits, _ and -)")
        }
        defaultPlan = try table.string("default_plan")
        if var plansTable = try table.table("plans") {
            for name in plansTable.keys {
                guard var planTable = try plansTable.table(name) else { continue }
                plans[name] = try Self.plan(&planTable)
            }
        }
        if let defaultPlan, plans[defaultPlan] == nil {
            throw table.error("default_plan", "no plan named \"\(defaultPlan)\" (plans: \(plans.keys.sorted().joined(separator: ", ")))")
        }
        if defaultPlan == nil, !plans.isEmpty { throw table.error("default_plan", "missing (which plan a new client is on)") }
        try table.rejectUnknownKeys()
    }

    private static func plan(_ table: inout StrictTable) throws(ManifestError) -> Plan {
        let periodText = try table.requiredString("period")
        guard let period = Self.seconds(periodText) else {
            throw table.error("period", "expected a length such as \"30d\", \"12h\" or \"15m\", found \"\(periodText)\"")
        }
        var meters: [String: MeterPrice] = [:]
        if var metersTable = try table.table("meters") {
            for meter in metersTable.keys {
                guard var priceTable = try metersTable.table(meter) else { continue }
                let free = try priceTable.integer("free") ?? 0
                guard free >= 0 else { throw priceTable.error("free", "must not be negative") }
                let price = try priceTable.number("price") ?? 0
                guard price >= 0, price.isFinite else { throw priceTable.error("price", "must be a non-negative number") }
                // The ledger counts money in whole micro-units: a finer price would be billed rounded
                // (one below half a micro-unit not at all).
                let micro = price * Double(Money.microPerUnit)
                guard abs(micro - micro.rounded()) < 1e-6 else {
                    throw priceTable.error("price", "\(price) is finer than the ledger's smallest amount, 0.000001: use a whole number "
                                           + "of millionths (\(Money.text(Money.micro(price))) is the nearest), or price a larger unit")
                }
                let limit = try priceTable.integer("limit")
                if let limit, limit < 0 { throw priceTable.error("limit", "must not be negative") }
                try priceTable.rejectUnknownKeys()
                meters[meter] = MeterPrice(freeUnits: free, pricePerUnit: price, limit: limit)
            }
            try metersTable.rejectUnknownKeys()
        }
        try table.rejectUnknownKeys()
        return Plan(periodSeconds: period, meters: meters)
    }

    /// The default plan's prices for service records, as the ledger counts them (no meters: free);
    /// nil when there are more meters than a record lists.
    public var servicePrices: ServiceRecord.Prices? {
        guard let name = defaultPlan, let plan = plans[name] else { return ServiceRecord.Prices(currency: currency, meters: [:]) }
        // All of them or none: a meter left out would read as free.
        guard plan.meters.count <= ServiceRecord.Prices.maxMeters else { return nil }
        let meters = plan.meters.sorted { $0.key < $1.key }.map { meter, price in
            (meter, ServiceRecord.MeterPrice(freeUnits: UInt64(price.freeUnits), microPrice: UInt64(max(0, Money.micro(price.pricePerUnit))),
                                             periodSeconds: UInt64(plan.periodSeconds)))
        }
        return ServiceRecord.Prices(currency: currency, meters: Dictionary(uniqueKeysWithValues: meters))
    }

    /// A one-line summary of the default plan for service records (at most 200 bytes), e.g.
    /// `requests: 1000 free per 30d, then 0.5 credit each, limit 2000`; "free" without plans.
    public var priceSummary: String {
        guard let name = defaultPlan, let plan = plans[name], !plan.meters.isEmpty else { return "free" }
        let period = Self.periodText(plan.periodSeconds)
        let parts = plan.meters.sorted { $0.key < $1.key }.map { meter, price in
            var text = "\(meter): \(price.freeUnits) free per \(period)"
            if price.pricePerUnit > 0 { text += ", then \(Money.text(Money.micro(price.pricePerUnit))) \(currency) each" }
            if let limit = price.limit { text += ", limit \(limit)" }
            return text
        }
        let summary = parts.joined(separator: "; ")
        guard summary.utf8.count > 200 else { return summary }
        var cut = ""
        for scalar in summary.unicodeScalars {
            guard cut.utf8.count + String(scalar).utf8.count <= 197 else { break }
            cut.unicodeScalars.append(scalar)
        }
        return cut + "..."
    }

    static func periodText(_ seconds: Int) -> String {
        for (unit, length) in [("d", 86_400), ("h", 3_600), ("m", 60)] where seconds % length == 0 { return "\(seconds / length)\(unit)" }
        return "\(seconds)s"
    }

    /// "30d", "12h", "15m" or "45s" in seconds; nil for anything else.
    static func seconds(_ text: String) -> Int? {
        guard let unit = text.last, let count = Int(text.dropLast()), count > 0 else { return nil }
        let scale: Int
        switch unit {
        case "d": scale = 86_400
        case "h": scale = 3_600
        case "m": scale = 60
        case "s": scale = 1
        default: return nil
        }
        let (seconds, overflow) = count.multipliedReportingOverflow(by: scale)
        return overflow ? nil : seconds
    }
}
