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

    /// A datagram of `bytes`: spent from every budget when none is in debt and, for one from
    /// outside, each still holds it above half its burst; false, nothing spent, otherwise. A
    /// datagram never waits: it passes or is dropped.
    func admitDatagram(_ bytes: Int, fromOutside: Bool) -> Bool {
        let now = NIODeadline.now()
        guard allSatisfy({ $0.holds(fromOutside ? bytes : 0, aboveHalf: fromOutside, now: now) }) else { return false }
        for budget in self { _ = budget.spend(bytes, now: now) }
        return true
    }
}
