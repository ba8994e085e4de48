import NIOCore

/// Waiting without the global cooperative pool: a pause timed by the node's event loop, and
/// nonisolated async work (storage writes) run with the loop as its task executor. `Task.sleep`
/// and a call with no executor preference would each need a pool thread to go on.
extension DHTNode {
    /// A pause that `pause(for:)` has not ended yet: its continuation and its timer.
    struct Pause {
        let continuation: CheckedContinuation<Void, Never>
        let timer: Scheduled<Void>
    }

    /// Returns after `duration`, timed on the node's loop, or at once when the task is cancelled
    /// (check `Task.isCancelled` after).
    func pause(for duration: Duration) async {
        nextPause &+= 1
        let id = nextPause
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let timer = eventLoop.scheduleTask(in: TimeAmount(duration)) { [weak self] () -> Void in
                    self?.assumeIsolated { $0.endPause(id) }
                }
                pauses[id] = Pause(continuation: continuation, timer: timer)
            }
        } onCancel: {
            // Queued, so it runs after the pause above is registered.
            eventLoop.execute { [weak self] in self?.assumeIsolated { $0.endPause(id) } }
        }
    }

    func endPause(_ id: UInt64) {
        guard let pause = pauses.removeValue(forKey: id) else { return }
        pause.timer.cancel()
        pause.continuation.resume()
    }

    /// Runs `operation` with the node's loop as its task executor (a nonisolated async call, such
    /// as a storage write awaited from the actor, otherwise runs and resumes on the pool).
    func onLoop<T, Failure: Error>(_ operation: () async throws(Failure) -> T) async throws(Failure) -> T {
        try await withTaskExecutorPreference(taskExecutor, operation: operation)
    }
}
