/// Swift concurrency's global jobs, run on the fuzzer's own thread when it asks: the HTTP server
/// hands each request to `respond` in a `Task` and writes the answer back with
/// `eventLoop.execute`, and an `EmbeddedEventLoop` may only be used from the thread that made it.
///
/// `install()` sets the runtime's `swift_task_enqueueGlobal_hook` (as swift-concurrency-extras'
/// `withMainSerialExecutor` does) so that a job meant for the global executor is queued here
/// instead of on a thread pool; `runPending()` runs the queued jobs on this thread. A fuzz input is
/// then deterministic and costs no thread hop: an HTTP target alternates `EmbeddedEventLoop.run()`
/// and `runPending()` until both are idle (`EmbeddedHTTPConnection.settle()`).
#if canImport(Glibc)
import Glibc
#endif

enum SerialJobs {
    private typealias Original = @convention(thin) (UnownedJob) -> Void
    private typealias Hook = @convention(thin) (UnownedJob, Original) -> Void

    /// Jobs waiting to run, oldest first. Touched only by the fuzzer's thread: every job is
    /// enqueued from code running on it.
    nonisolated(unsafe) fileprivate static var pending: [UnownedJob] = []

    /// Redirects global jobs to `pending`; once per process, before the first `Task`.
    static let install: Void = {
        guard let symbol = dlsym(dlopen(nil, RTLD_NOW), "swift_task_enqueueGlobal_hook") else {
            fatalError("swift_task_enqueueGlobal_hook not found in the Swift runtime")
        }
        symbol.assumingMemoryBound(to: Hook?.self).pointee = { job, _ in SerialJobs.pending.append(job) }
    }()

    /// Runs the jobs queued now and those they queue, until none is left; whether any ran.
    @discardableResult
    static func runPending() -> Bool {
        var ran = false
        while !pending.isEmpty {
            let job = pending.removeFirst()
            ran = true
            job.runSynchronously(on: FuzzerThreadExecutor.shared.asUnownedSerialExecutor())
        }
        return ran
    }
}

/// The executor the redirected jobs run on: this thread; what it is given is queued with the rest.
final class FuzzerThreadExecutor: SerialExecutor {
    static let shared = FuzzerThreadExecutor()

    func enqueue(_ job: consuming ExecutorJob) {
        SerialJobs.pending.append(UnownedJob(job))
    }
}
