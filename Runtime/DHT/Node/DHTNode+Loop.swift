import NIOCore

/// Waiting without the global cooperative pool: a pause timed by the node's event loop, where
/// `Task.sleep` would need a pool thread to wake. (The node's storage writes need nothing here:
/// `DHTStorage`'s async methods are `nonisolated(nonsending)`, so they run and resume on the
/// node's executor.)
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
}
