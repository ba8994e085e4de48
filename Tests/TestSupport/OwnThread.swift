import Foundation

/// Runs blocking `work` (a child process run to its end, a compiler) on a thread of its own and
/// awaits it. Swift concurrency's cooperative pool has as many threads as cores (2 on the test
/// machine), shared by every test running in parallel and the servers under test; a test that
/// blocks one of them stalls the others, which then miss their deadlines.
public func onOwnThread<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try work() }) }.start()
    }
}

extension Process {
    /// Waits for the process to end without holding a thread (see `onOwnThread`).
    public func exited() async {
        while isRunning { try? await Task.sleep(for: .milliseconds(10)) }
        waitUntilExit()
    }
}

/// At most `width` bodies at once; the others wait without holding a thread. `CarrierBinary.run`
/// goes through one of these: run all at once, the CLI tests' child processes would load both
/// cores at the start of `make test` and make the deadline-bound tests beside them miss.
public actor ConcurrencyLimit {
    private let width: Int
    private var running = 0
    private var waiting: [CheckedContinuation<Void, Never>] = []

    public init(width: Int) { self.width = width }

    public func run<T: Sendable>(_ body: @Sendable () async throws -> T) async rethrows -> T {
        if running >= width { await withCheckedContinuation { waiting.append($0) } } else { running += 1 }
        defer {
            if waiting.isEmpty { running -= 1 } else { waiting.removeFirst().resume() }
        }
        return try await body()
    }
}
