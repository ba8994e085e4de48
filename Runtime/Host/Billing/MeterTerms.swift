import Foundation

/// What one meter costs a client on its plan: the manifest's `[billing.plans.P.meters.M]`, in the
/// ledger's integer money unit. Money is counted in micro-units of the currency (1 credit =
/// 1,000,000), so sums are exact; a price finer than one micro-unit rounds to the nearest one.
public struct MeterTerms: Sendable, Equatable {
    public let plan: String
    public let periodSeconds: Int64
    public let freeUnits: Int64
    /// Micro-units per unit beyond the free ones.
    public let microPrice: Int64
    public let limit: Int64?
    public let currency: String

    /// The terms of `meter` for a client on `assignedPlan` (the section's default plan when the
    /// client has none, or when the section has no plan of that name); nil when the meter is free
    /// and unlimited (no billing section, or no price for it in the plan).
    public static func resolve(_ section: BillingSection, plan assignedPlan: String?, meter: String) -> MeterTerms? {
        guard let name = section.planName(assigned: assignedPlan), let plan = section.plans[name], let price = plan.meters[meter] else { return nil }
        return MeterTerms(plan: name, periodSeconds: Int64(plan.periodSeconds), freeUnits: Int64(price.freeUnits),
                          microPrice: Money.micro(price.pricePerUnit), limit: price.limit.map(Int64.init), currency: section.currency)
    }

    /// The start of the period holding `time` (Unix seconds): periods are counted from 2026-01-01 UTC.
    public func periodStart(at time: Int64) -> Int64 { Self.periodStart(at: time, length: periodSeconds) }

    /// The start of the period of `length` seconds holding `time`, counting from 2026-01-01 UTC.
    static func periodStart(at time: Int64, length: Int64) -> Int64 {
        let offset = time - Money.epoch
        let index = offset >= 0 ? offset / length : (offset - length + 1) / length
        return Money.epoch + index * length
    }

    /// The charge, in micro-units, for `amount` more units when `used` are already used this period.
    public func charge(used: Int64, amount: Int64) -> Int64 {
        let billable = max(0, Money.sum(used, amount) - max(freeUnits, used))
        let (charge, overflow) = billable.multipliedReportingOverflow(by: microPrice)
        return overflow ? Int64.max : charge
    }
}

/// Money in the ledger's unit (micro-units of the currency).
public enum Money {
    public static let microPerUnit: Int64 = 1_000_000
    /// The most units one `authorize` or `report` may carry (2^40): anything larger is a plugin's
    /// mistake, refused before it reaches the arithmetic.
    public static let maxUnitsPerCall: UInt64 = 1 << 40

    /// `a + b`, held at the limits of Int64 instead of trapping (a total that large is already wrong,
    /// but the host must not crash over it).
    public static func sum(_ a: Int64, _ b: Int64) -> Int64 {
        let (total, overflow) = a.addingReportingOverflow(b)
        return overflow ? (b > 0 ? .max : .min) : total
    }
    /// 2026-01-01T00:00:00Z, where billing periods start counting.
    public static let epoch: Int64 = 1_767_225_600

    /// `amount` currency units in micro-units (rounded; clamped to what an Int64 holds).
    public static func micro(_ amount: Double) -> Int64 {
        let scaled = (amount * Double(microPerUnit)).rounded()
        guard scaled.isFinite else { return scaled > 0 ? Int64.max : Int64.min }
        return Int64(max(min(scaled, 9.2e18), -9.2e18))
    }

    /// "1.5", "0.000001", "-3": micro-units as a decimal in currency units, exact.
    public static func text(_ micro: Int64) -> String {
        let sign = micro < 0 ? "-" : ""
        let magnitude = micro.magnitude
        let whole = magnitude / UInt64(microPerUnit), fraction = magnitude % UInt64(microPerUnit)
        guard fraction > 0 else { return "\(sign)\(whole)" }
        var digits = String(fraction)
        digits = String(repeating: "0", count: 6 - digits.count) + digits
        while digits.hasSuffix("0") { digits.removeLast() }
        return "\(sign)\(whole).\(digits)"
    }

    /// Parses a decimal amount ("2", "0.5", "-1.25") exactly, to micro-units; nil if malformed or
    /// finer than a micro-unit.
    public static func parse(_ text: String) -> Int64? {
        var rest = Substring(text)
        let negative = rest.hasPrefix("-")
        if negative { rest = rest.dropFirst() }
        let parts = rest.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), let wholeText = parts.first, !wholeText.isEmpty, wholeText.allSatisfy(\.isASCII),
              let whole = Int64(wholeText), whole >= 0 else { return nil }
        var fraction: Int64 = 0
        if parts.count == 2 {
            let digits = parts[1]
            guard (1...6).contains(digits.count), digits.allSatisfy({ $0.isASCII && $0.isNumber }), let value = Int64(digits) else { return nil }
            fraction = value * Int64(pow(10, Double(6 - digits.count)))
        }
        let (scaled, overflow) = whole.multipliedReportingOverflow(by: microPerUnit)
        guard !overflow, scaled <= Int64.max - fraction else { return nil }
        return negative ? -(scaled + fraction) : scaled + fraction
    }
}
