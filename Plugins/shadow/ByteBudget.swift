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

    /// Whether the budget is overdrawn now (a datagram then is dropped rather than delayed).
    func isInDebt(now: NIODeadline = .now()) -> Bool {
        state.withLock { state in
            refill(&state, now: now)
            return state.tokens < 0
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

    /// A datagram of `bytes`: spent from every budget when none is overdrawn; false (nothing
    /// spent) when one is.
    func admitDatagram(_ bytes: Int) -> Bool {
        let now = NIODeadline.now()
        guard !contains(where: { $0.isInDebt(now: now) }) else { return false }
        for budget in self { _ = budget.spend(bytes, now: now) }
        return true
    }
}
