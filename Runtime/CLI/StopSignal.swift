import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// SIGINT and SIGTERM as an orderly stop. `install()` runs first thing: it replaces the default
/// action (which would kill the process half-way) by dispatch signal sources, so a signal that
/// arrives at any moment, on any thread, is delivered to `wait()`.
enum StopSignal {
    private final class State: @unchecked Sendable {
        let lock = NSLock()
        var received: Int32?
        var waiter: CheckedContinuation<Int32, Never>?
        var sources: [DispatchSourceSignal] = []
        var immediately: (@Sendable (Int32) -> Void)?

        func deliver(_ signal: Int32) {
            lock.lock()
            defer { lock.unlock() }
            if let immediately { immediately(signal) }
            guard received == nil else { return }
            received = signal
            waiter?.resume(returning: signal)
            waiter = nil
        }
    }

    private static let state = State()

    /// Starts catching SIGINT and SIGTERM.
    static func install() {
        for number in [SIGINT, SIGTERM] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { state.deliver(number) }
            source.resume()
            state.lock.lock()
            state.sources.append(source)
            state.lock.unlock()
        }
    }

    /// While set, `action` runs on the signal's own dispatch thread the moment a signal arrives,
    /// before `wait()` hears of it: for a stop that must not wait for Swift's cooperative threads,
    /// which a busy process may keep occupied for seconds.
    static func setImmediateAction(_ action: (@Sendable (Int32) -> Void)?) {
        state.lock.lock()
        state.immediately = action
        state.lock.unlock()
    }

    /// Waits until SIGINT or SIGTERM has arrived and returns its number.
    static func wait() async -> Int32 {
        await withCheckedContinuation { continuation in
            state.lock.lock()
            defer { state.lock.unlock() }
            if let received = state.received {
                continuation.resume(returning: received)
            } else {
                state.waiter = continuation
            }
        }
    }
}
