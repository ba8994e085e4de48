import CarrierCore
import CarrierPluginABI
import Foundation
import Logging
import Synchronization

/// Billing's hot path: `authorize` and `report` answer from memory, and a flush every
/// `flushInterval` writes what was reported to the ledger in one transaction.
///
/// **What a crash can lose**: the usage reported since the last flush that committed, at most
/// one `flushInterval` (1 s by default) of it. Nothing is counted twice: a flush is one
/// transaction, and what it wrote leaves memory only after it committed (a flush that fails is
/// kept and retried with the next one).
///
/// Operators change plans and credit with `carrier billing plan|credit`, which write the ledger
/// directly; each flush reads what they changed, so a running host applies it within one interval.
public final class BillingAccounts: Sendable {
    public let ledger: BillingLedger
    public let flushInterval: Duration
    private let clock: @Sendable () -> Int64
    private let logger = Logger(label: "carrier.billing")

    /// One client as the hot path knows it.
    private struct Account {
        var plan: String?
        /// The balance the ledger holds (as of the last flush).
        var durableBalance: Int64
        /// Charges not yet flushed.
        var pendingCharges: Int64 = 0
        var balance: Int64 { durableBalance - pendingCharges }
    }

    private struct State {
        var accounts: [Id: Account] = [:]
        /// Units used per client, plugin, meter and period: the ledger's plus what is pending.
        var used: [BillingLedger.Batch.Key: Int64] = [:]
        var pending = BillingLedger.Batch()
        var revision: Int64 = 0
        var flushes = 0
        var failedFlushes = 0
    }

    private let state = Mutex(State())
    /// One flush at a time.
    private let flushing = Mutex(())
    private let flushTask = Mutex<Task<Void, Never>?>(nil)

    /// Accounts over `ledger`. `clock` gives Unix seconds (tests move it across periods).
    public init(ledger: BillingLedger, flushInterval: Duration = .seconds(1),
                clock: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970) }) throws(StorageError) {
        self.ledger = ledger
        self.flushInterval = flushInterval
        self.clock = clock
        let revision = try ledger.revision()
        state.withLock { $0.revision = revision }
    }

    /// Unpriced meters are still recorded per client, in periods of this length.
    static let unpricedPeriodSeconds: Int64 = 30 * 86_400

    // MARK: Hot path

    /// May `client` use `estimate` more units of `meter` of `plugin`, priced by `section`? On a
    /// refusal, the reason says what was used up and what the client can do.
    public func authorize(client: Id, plugin: String, section: BillingSection, meter: String, estimate: UInt64) -> (carrier_billing_decision, String) {
        let amount = Int64(clamping: estimate), now = clock()
        while true {
            // One lock for what memory knows; the ledger is read (outside it) only the first time.
            let step: Step<(MeterTerms, used: Int64, balance: Int64)?> = state.withLock { state in
                guard let account = state.accounts[client] else { return .loadAccount }
                guard let terms = MeterTerms.resolve(section, plan: account.plan, meter: meter) else { return .done(nil) }
                let key = Self.key(client, plugin, meter, terms: terms, now: now)
                guard let used = state.used[key] else { return .loadUsed(key) }
                return .done((terms, used, account.balance))
            }
            switch step {
            case .loadAccount, .loadUsed:
                // A ledger that cannot be read refuses (and nothing is cached: the next call reads again).
                do { try load(step, client: client) } catch {
                    logger.error("billing ledger unreadable; refusing", metadata: ["error": "\(error)"])
                    return (CARRIER_BILLING_PAYMENT_REQUIRED, "the billing ledger cannot be read: \(error)")
                }
            case .done(nil): return (CARRIER_BILLING_ALLOWED, "")
            case .done(let (terms, used, balance)?): return Self.decide(terms, meter: meter, used: used, amount: amount, balance: balance)
            }
        }
    }

    private static func decide(_ terms: MeterTerms, meter: String, used: Int64, amount: Int64, balance: Int64) -> (carrier_billing_decision, String) {
        let period = BillingSection.periodText(Int(terms.periodSeconds))
        if let limit = terms.limit, used > limit - amount {
            return (CARRIER_BILLING_QUOTA_EXCEEDED, "limit of \(limit) \(meter) per \(period) on plan \(terms.plan) reached (\(used) used)")
        }
        let charge = terms.charge(used: used, amount: amount)
        guard charge > 0, balance < charge else { return (CARRIER_BILLING_ALLOWED, "") }
        return (CARRIER_BILLING_PAYMENT_REQUIRED,
                "the \(terms.freeUnits) free \(meter) per \(period) of plan \(terms.plan) are used; this needs \(Money.text(charge)) "
                    + "\(terms.currency) and the balance is \(Money.text(balance)) \(terms.currency)")
    }

    /// Records that `client` used `amount` units of `meter` of `plugin`, and charges what is
    /// beyond the free units at the plan's price.
    public func report(client: Id, plugin: String, section: BillingSection, meter: String, amount: UInt64) {
        guard amount > 0 else { return }
        let units = Int64(clamping: amount), now = clock()
        while true {
            let step: Step<Void> = state.withLock { state in
                guard let account = state.accounts[client] else { return .loadAccount }
                let terms = MeterTerms.resolve(section, plan: account.plan, meter: meter)
                let key = Self.key(client, plugin, meter, terms: terms, now: now)
                guard let used = state.used[key] else { return .loadUsed(key) }
                let charge = terms?.charge(used: used, amount: units) ?? 0
                state.used[key] = Money.sum(used, units)
                state.pending.usage[key, default: BillingLedger.Batch.Delta()]
                    .add(units: units, charge: charge, microPrice: terms?.microPrice ?? 0, currency: terms?.currency ?? section.currency)
                state.accounts[client]!.pendingCharges = Money.sum(state.accounts[client]!.pendingCharges, charge)
                return .done(())
            }
            switch step {
            case .loadAccount, .loadUsed:
                // Use already happened and must be counted: with the ledger unreadable, it counts
                // from an empty account and period (logged), rather than being lost.
                do { try load(step, client: client) } catch {
                    logger.error("billing ledger unreadable; counting this use from an empty account", metadata: ["error": "\(error)"])
                    assumeEmpty(step, client: client)
                }
            case .done: return
            }
        }
    }

    /// A client's plan and balance as the hot path sees them (flushed and pending).
    public func balance(of client: Id) -> (plan: String?, balance: Int64) {
        try? load(Step<Void>.loadAccount, client: client)
        return state.withLock { ($0.accounts[client]?.plan, $0.accounts[client]?.balance ?? 0) }
    }

    /// The plan `section` bills `client` by (its assigned plan if the section has one of that
    /// name, else the default plan); nil when the section has no plans. Reads the ledger only the
    /// first time the client is seen.
    public func plan(of client: Id, section: BillingSection) throws(StorageError) -> String? {
        guard !section.plans.isEmpty else { return nil }
        try load(Step<Void>.loadAccount, client: client)
        return section.planName(assigned: state.withLock { $0.accounts[client]?.plan })
    }

    /// What the hot path needs next: an answer, or something read from the ledger first.
    private enum Step<Answer> {
        case done(Answer)
        case loadAccount
        case loadUsed(BillingLedger.Batch.Key)
    }

    /// The usage row a use at `now` counts in (unpriced meters count in 30-day periods).
    private static func key(_ client: Id, _ plugin: String, _ meter: String, terms: MeterTerms?, now: Int64) -> BillingLedger.Batch.Key {
        let periodSeconds = terms?.periodSeconds ?? unpricedPeriodSeconds
        let periodStart = MeterTerms.periodStart(at: now, length: periodSeconds)
        return BillingLedger.Batch.Key(client: client, plugin: plugin, meter: meter, periodStart: periodStart, periodSeconds: periodSeconds)
    }

    /// Reads what `step` asks for (a client's plan and balance, or a period's units) from the
    /// ledger into memory, unless memory has it already.
    private func load<Answer>(_ step: Step<Answer>, client: Id) throws(StorageError) {
        switch step {
        case .loadAccount:
            guard state.withLock({ $0.accounts[client] == nil }) else { return }
            let stored = try ledger.client(client)
            state.withLock { state in
                if state.accounts[client] == nil { state.accounts[client] = Account(plan: stored?.plan, durableBalance: stored?.balance ?? 0) }
            }
        case .loadUsed(let key):
            guard state.withLock({ $0.used[key] == nil }) else { return }
            let stored = try ledger.units(key)
            state.withLock { state in
                if state.used[key] == nil { state.used[key] = stored }
            }
        case .done:
            return
        }
    }

    /// What `load` would have read, taken as empty (no plan, no balance, nothing used).
    private func assumeEmpty<Answer>(_ step: Step<Answer>, client: Id) {
        state.withLock { state in
            switch step {
            case .loadAccount: if state.accounts[client] == nil { state.accounts[client] = Account(plan: nil, durableBalance: 0) }
            case .loadUsed(let key): if state.used[key] == nil { state.used[key] = 0 }
            case .done: break
            }
        }
    }

    // MARK: Flushing

    /// Writes what was reported since the last flush, in one transaction, and picks up operator
    /// changes. Returns how many usage rows it wrote.
    @discardableResult
    public func flush() throws(StorageError) -> Int {
        let outcome: Result<Int, StorageError> = flushing.withLock { _ in
            do throws(StorageError) { return .success(try flushNow()) } catch { return .failure(error) }
        }
        return try outcome.get()
    }

    private func flushNow() throws(StorageError) -> Int {
        // A report reads the clock before it takes the lock: one that read it up to a second
        // before the swap may still land after it, so the batch covers uses before swap - 1 s.
        let swapped = clock()
        let (batch, revision) = state.withLock { state in
            defer { state.pending = BillingLedger.Batch() }
            return (state.pending, state.revision)
        }
        let result: (changed: [BillingLedger.Client], revision: Int64)
        do {
            result = try ledger.commit(batch, at: clock(), committedThrough: swapped - 1, changedSince: revision)
        } catch {
            state.withLock { state in
                state.failedFlushes += 1
                for (key, delta) in batch.usage {
                    // Back in front of what was reported since; a newer report's price stays.
                    let newer = state.pending.usage[key]
                    state.pending.usage[key, default: BillingLedger.Batch.Delta()]
                        .add(units: delta.units, charge: delta.charge, microPrice: newer?.microPrice ?? delta.microPrice,
                             currency: newer?.currency ?? delta.currency)
                }
            }
            throw error
        }
        let now = clock()
        state.withLock { state in
            state.flushes += 1
            for (key, delta) in batch.usage where delta.charge > 0 {
                state.accounts[key.client]?.durableBalance -= delta.charge
                state.accounts[key.client]?.pendingCharges -= delta.charge
            }
            for client in result.changed where state.accounts[client.id] != nil {
                state.accounts[client.id]?.plan = client.plan
                state.accounts[client.id]?.durableBalance = client.balance
            }
            state.revision = result.revision
            // Periods that ended and have nothing pending are no longer needed in memory.
            state.used = state.used.filter { key, _ in state.pending.usage[key] != nil || key.periodStart + key.periodSeconds > now }
        }
        return batch.usage.count
    }

    /// Flushes every `flushInterval` until `stop`.
    public func start() {
        let task = Task { [self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: flushInterval)
                do { try flush() } catch { logger.error("billing flush failed; retrying with the next", metadata: ["error": "\(error)"]) }
            }
        }
        flushTask.withLock { $0?.cancel(); $0 = task }
    }

    /// Stops the periodic flush and flushes what is pending.
    public func stop() async {
        let task = flushTask.withLock { task in defer { task = nil }; return task }
        task?.cancel()
        await task?.value
        do { try flush() } catch { logger.error("final billing flush failed", metadata: ["error": "\(error)"]) }
    }

    /// Flushes so far, and those that failed (for /metrics).
    public var flushCounts: (done: Int, failed: Int) { state.withLock { ($0.flushes, $0.failedFlushes) } }
}
