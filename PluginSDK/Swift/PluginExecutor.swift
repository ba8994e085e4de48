import CarrierPluginABI
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The instance's executor as Swift concurrency sees it: a `SerialExecutor` (and `TaskExecutor`)
/// whose jobs go through the host's `post`, so they run on the host's serial executor for the
/// instance, one at a time, with the plugin's methods, timers and events. A task started with
/// `CarrierHostAPI.task` prefers it: after every `await` on a host call, its code resumes there,
/// and may touch the plugin's state without locks.
///
/// Once the instance is stopping the host takes no more posts: a job enqueued then never runs
/// (the task it belongs to is abandoned with the instance).
public final class PluginExecutor: SerialExecutor, TaskExecutor, @unchecked Sendable {
    // @unchecked: `host` is the host's table and handle, valid for the instance's life, thread-safe.
    private let host: CarrierHostAPI

    init(host: CarrierHostAPI) {
        self.host = host
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        host.post { [self] in job.runSynchronously(isolatedTo: asUnownedSerialExecutor(), taskExecutor: asUnownedTaskExecutor()) }
    }

    public func asUnownedSerialExecutor() -> UnownedSerialExecutor { UnownedSerialExecutor(ordinary: self) }

    public func checkIsolated() {
        precondition(OnExecutor.isCurrent(host.handle), "not on the plugin's executor")
    }
}

/// Which thread is running a call from the host into an instance right now: the SDK marks every
/// such call (lifecycle methods, posted work, timers, events), so `CarrierHostAPI.isOnExecutor`
/// can tell whether code runs on the instance's executor.
enum OnExecutor {
    private static let running = Mutex<[Int: pthread_t]>([:])

    /// Runs `body` as a call from the host into the instance `host`.
    static func run<T>(_ host: OpaquePointer, _ body: () throws -> T) rethrows -> T {
        let key = Int(bitPattern: host), previous = running.withLock { $0.updateValue(pthread_self(), forKey: key) }
        defer { running.withLock { $0[key] = previous } }
        return try body()
    }

    static func isCurrent(_ host: OpaquePointer) -> Bool {
        guard let thread = running.withLock({ $0[Int(bitPattern: host)] }) else { return false }
        return pthread_equal(thread, pthread_self()) != 0
    }
}
