import Synchronization

/// A result that arrives once, from any thread, awaited (by any number of waiters) with a time limit.
final class OneShot<T: Sendable>: Sendable {
    private struct Waiter {
        let continuation: CheckedContinuation<T?, Never>
        /// The sleeper that ends this wait at its limit; cancelled when the result comes first.
        var timer: Task<Void, Never>?
    }

    private struct State {
        var result: T?
        var waiters: [UInt64: Waiter] = [:]
        var nextWaiter: UInt64 = 0
    }

    private let state = Mutex(State())

    /// Delivers the result (only the first call counts) to every waiter.
    func fulfil(_ result: T) {
        let waiters = state.withLock { state -> [Waiter] in
            guard state.result == nil else { return [] }
            state.result = result
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiters {
            waiter.timer?.cancel()
            waiter.continuation.resume(returning: result)
        }
    }

    /// The result if it has arrived, without waiting.
    var current: T? { state.withLock { $0.result } }

    /// The result, or nil if it did not arrive within `limit`.
    func value(within limit: Duration) async -> T? {
        await withCheckedContinuation { continuation in
            let token = state.withLock { state -> UInt64? in
                guard state.result == nil else { return nil }
                let token = state.nextWaiter
                state.nextWaiter += 1
                state.waiters[token] = Waiter(continuation: continuation)
                return token
            }
            guard let token else { return continuation.resume(returning: state.withLock { $0.result }) }
            let timer = Task {
                try? await Task.sleep(for: limit)
                state.withLock { $0.waiters.removeValue(forKey: token) }?.continuation.resume(returning: nil)
            }
            let fulfilled = state.withLock { state in
                guard state.waiters[token] != nil else { return true }
                state.waiters[token]?.timer = timer
                return false
            }
            if fulfilled { timer.cancel() }
        }
    }

    /// The result, waiting as long as it takes.
    var value: T {
        get async {
            while true {
                if let result = await value(within: .seconds(3600)) { return result }
            }
        }
    }
}
