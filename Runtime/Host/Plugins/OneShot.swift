import Synchronization

/// A result that arrives once, from any thread, awaited with a time limit.
final class OneShot<T: Sendable>: Sendable {
    private struct State {
        var result: T?
        var waiter: CheckedContinuation<T?, Never>?
        var finished = false
        /// The sleeper that ends the wait at the limit; cancelled when the result comes first.
        var timer: Task<Void, Never>?
    }

    private let state = Mutex(State())

    /// Delivers the result (only the first call counts).
    func fulfil(_ result: T) {
        let waiter = state.withLock { state -> CheckedContinuation<T?, Never>? in
            guard !state.finished else { return nil }
            state.result = result
            state.timer?.cancel()
            if let waiter = state.waiter { state.finished = true; state.waiter = nil; return waiter }
            return nil
        }
        waiter?.resume(returning: result)
    }

    /// The result, or nil if it did not arrive within `limit`.
    func value(within limit: Duration) async -> T? {
        await withCheckedContinuation { continuation in
            let ready = state.withLock { state -> T?? in
                if let result = state.result { state.finished = true; return .some(result) }
                state.waiter = continuation
                return .none
            }
            if case .some(let result) = ready { return continuation.resume(returning: result) }
            let timer = Task {
                try? await Task.sleep(for: limit)
                let waiter = self.state.withLock { state -> CheckedContinuation<T?, Never>? in
                    guard !state.finished else { return nil }
                    state.finished = true
                    defer { state.waiter = nil }
                    return state.waiter
                }
                waiter?.resume(returning: nil)
            }
            state.withLock { state in
                if state.finished || state.result != nil { timer.cancel() } else { state.timer = timer }
            }
        }
    }
}
