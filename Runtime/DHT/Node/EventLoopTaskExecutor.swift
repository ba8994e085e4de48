import NIOCore

/// A SwiftNIO event loop as a Swift `TaskExecutor`, so that the child tasks and timers a `DHTNode`
/// starts run on its event loop, as its actor does, rather than on the global cooperative pool.
///
/// Why: a process that blocks the pool's few threads (a plugin's synchronous call, an fsync in
/// someone else's task) would otherwise hold back every lookup's calls, and a request's answer
/// could wait behind its own timeout. On the node's loop they wait only for the node's own work.
///
/// Usage: `group.addTask(executorPreference: node.taskExecutor) { ... }`,
/// `Task(executorPreference: node.taskExecutor) { ... }`.
final class EventLoopTaskExecutor: TaskExecutor {
    let eventLoop: any EventLoop

    init(_ eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        eventLoop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
