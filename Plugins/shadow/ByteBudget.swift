import NIOCore
import Synchronization

/// A byte-rate budget shared by every connection it meters (one per client, one per mapping): a
/// token bucket of `rate` bytes a second holding at most `burst`. Spending may overdraw it, so
/// bytes already read are never dropped or held; the reader then pauses until the debt is
/// repaid, which keeps the average at `rate`. Thread-safe: the connections run on any loop.
final class ByteBudget: Sendable {
    let rate: Double
    let burst: Double
    private let state: Mutex<(tokens: Double, updated: NIODeadline)>

    /// nil when `bytesPerSecond` is 0 (no limit). The burst is a quarter second's worth, at
    /// least 64 KiB (one full frame).
    init?(bytesPerSecond: Int) {
        guard bytesPerSecond > 0 else { return nil }
        rate = Double(bytesPerSecond)
        burst = max(65_536, rate / 4)
        state = Mutex((burst, .now()))
    }

    /// Takes `bytes`; returns how long the spender should wait before reading more (zero when
    /// the budget is not in debt).
    func spend(_ bytes: Int, now: NIODeadline = .now()) -> TimeAmount {
        state.withLock { state in
            refill(&state, now: now)
            state.tokens -= Double(bytes)
            return wait(state.tokens)
        }
    }

    /// Whether the budget holds `bytes` now, above half its burst when `aboveHalf` (at most a
    /// full burst is asked for, so any datagram passes a full budget). `holds(0)`: not in debt.
    func holds(_ bytes: Int, aboveHalf: Bool, now: NIODeadline = .now()) -> Bool {
        state.withLock { state in
            refill(&state, now: now)
            return state.tokens >= min(Double(bytes) + (aboveHalf ? burst / 2 : 0), burst)
        }
    }

    private func refill(_ state: inout (tokens: Double, updated: NIODeadline), now: NIODeadline) {
        let elapsed = Double((now - state.updated).nanoseconds) / 1e9
        guard elapsed > 0 else { return }
        state.tokens = min(burst, state.tokens + elapsed * rate)
        state.updated = now
    }

    private func wait(_ tokens: Double) -> TimeAmount {
        tokens >= 0 ? .zero : .nanoseconds(Int64((-tokens / rate * 1e9).rounded(.up)))
    }
}

extension Array where Element == ByteBudget {
    /// Spends from every budget; the longest wait among them.
    func spend(_ bytes: Int) -> TimeAmount {
        let now = NIODeadline.now()
        return reduce(.zero) { longest, budget in Swift.max(longest, budget.spend(bytes, now: now)) }
    }

}

/// The budgets a UDP mapping's datagrams spend: the client's (shared with its other mappings,
/// TCP streams included) and the mapping's own (its datagrams alone: a mapping has one transport).
/// A datagram never waits: it passes, spent from both, or is dropped with nothing spent.
struct DatagramBudgets: Sendable {
    var client: ByteBudget?
    var mapping: ByteBudget?

    /// A datagram from outside passes when the client's budget is not in debt and the mapping's
    /// still holds it above half its burst: that half is kept for the answers, so a flood of
    /// queries cannot starve the answers to the queries already relayed. (Only the mapping's own
    /// budget keeps a reserve: on the client's, a busy TCP stream would keep it from ever passing.)
    func admitFromOutside(_ bytes: Int) -> Bool {
        let now = NIODeadline.now()
        guard client?.holds(0, aboveHalf: false, now: now) ?? true, mapping?.holds(bytes, aboveHalf: true, now: now) ?? true else { return false }
        spend(bytes, now: now)
        return true
    }

    /// An answer (client to outside) passes when neither budget is in debt.
    func admitAnswer(_ bytes: Int) -> Bool {
        let now = NIODeadline.now()
        guard client?.holds(0, aboveHalf: false, now: now) ?? true, mapping?.holds(0, aboveHalf: false, now: now) ?? true else { return false }
        spend(bytes, now: now)
        return true
    }

    private func spend(_ bytes: Int, now: NIODeadline) {
        _ = client?.spend(bytes, now: now)
        _ = mapping?.spend(bytes, now: now)
    }
}
