import Dispatch
import Foundation
import Synchronization

/// Writes to one SQLite file on a thread of its own, with group commit: the writes that arrive
/// while a commit is being made durable wait, and the next transaction takes them all, so one
/// fsync serves many writes and no caller waits on the disk. Each write runs in a savepoint of its
/// own, so one that throws is undone alone and the others of its group stay in. A completion is
/// called once the group's COMMIT has returned (the write is on disk), with the write's result; a
/// write its own body refused keeps its error, and when the group cannot be committed the others
/// get the commit's error.
///
/// At most `maxQueued` writes wait; beyond that a write is refused at once with `Busy`, so a
/// slow disk pushes back on whoever writes rather than growing memory.
///
/// Thread contract: `submit`, `write` and `close` from any thread but the writer's own. A
/// write's body runs on the writer thread with the writer's connection (it must not keep it, nor
/// open a savepoint named `carrier_group_write`); completions run there too, in the order the
/// writes were submitted, and must not block. Only a write refused before it was queued (`Busy`,
/// or the writer closed) is completed on the caller's thread, at once. Reads go through another
/// connection: in WAL mode they see every committed group and never wait for a commit.
///
/// ```swift
/// let writer = try GroupCommitWriter(path: path)
/// let rows = try await writer.write { database in try database.query("DELETE FROM t WHERE x < ?", [.integer(9)]) }
/// ```
public final class GroupCommitWriter: Sendable {
    /// Most writes one transaction takes; the rest wait for the next.
    public static let maxGroup = 512
    /// Most writes waiting at once.
    public static let maxQueued = 8192

    /// A write refused because `maxQueued` writes are waiting already.
    public struct Busy: Error, CustomStringConvertible {
        public var description: String { "storage busy: \(GroupCommitWriter.maxQueued) writes are waiting for the disk" }
    }

    /// One submitted write: `run` executes it in its savepoint and says whether it succeeded, and
    /// what to call once the group's fate is known; `abandon` fails a write that never ran.
    private struct Job: Sendable {
        let run: @Sendable (SQLiteDatabase) -> (succeeded: Bool, finish: @Sendable ((any Error)?) -> Void)
        let abandon: @Sendable (any Error) -> Void
    }

    private struct Queue {
        var jobs: [Job] = []
        var closing = false
    }

    /// What the writer thread shares with the submitters (the thread holds it, not `self`, so
    /// dropping the last reference to the writer ends the thread once the queue is empty).
    private final class Shared: Sendable {
        let queue = Mutex(Queue())
        /// The writer thread, so `close` can refuse to run on it.
        let thread = Mutex<ObjectIdentifier?>(nil)
        let wake = DispatchSemaphore(value: 0)
        let finished = DispatchSemaphore(value: 0)
        /// Groups committed and writes they held (`groupsCommitted`, `writesDone`; not on `/metrics` yet).
        let groups = Atomic<Int>(0)
        let writes = Atomic<Int>(0)
    }

    /// The writer thread's connection, moved onto it: its only user from then on. Reopened when
    /// a failed group leaves it inside a transaction; let go before `finished` is signalled.
    private final class Connection: @unchecked Sendable {
        let path: String
        var database: SQLiteDatabase?
        init(path: String) throws(StorageError) {
            self.path = path
            database = try SQLiteDatabase(path: path)
        }
    }

    private let shared = Shared()
    public let path: String

    /// Opens a connection of its own to `path` (which must exist with its schema) and starts the
    /// writer thread.
    public init(path: String) throws(StorageError) {
        let connection = try Connection(path: path)
        self.path = path
        let shared = self.shared
        let thread = Thread { Self.serve(connection, shared) }
        thread.name = "carrier-sqlite-writer"
        shared.thread.withLock { $0 = ObjectIdentifier(thread) }
        thread.start()
    }

    deinit {
        shared.queue.withLock { $0.closing = true }
        shared.wake.signal()
    }

    /// Groups committed since the writer started.
    public var groupsCommitted: Int { shared.groups.load(ordering: .relaxed) }
    /// Writes committed (or refused by their own body) since the writer started.
    public var writesDone: Int { shared.writes.load(ordering: .relaxed) }

    /// Queues `body`; `completion` gets its result once its group is durable (or the error that
    /// kept the group from committing, or `StorageError` when the writer is closed).
    public func submit<T: Sendable>(_ body: @escaping @Sendable (SQLiteDatabase) throws -> T,
                                    completion: @escaping @Sendable (Result<T, any Error>) -> Void) {
        let job = Job(run: { database in
            do {
                let value = try body(database)
                return (true, { failure in completion(failure.map { .failure($0) } ?? .success(value)) })
            } catch {
                return (false, { _ in completion(.failure(error)) })
            }
        }, abandon: { completion(.failure($0)) })
        let refusal = shared.queue.withLock { queue -> (any Error)? in
            guard !queue.closing else { return StorageError("\(path): the writer is closed") }
            guard queue.jobs.count < Self.maxQueued else { return Busy() }
            queue.jobs.append(job)
            return nil
        }
        if let refusal { return completion(.failure(refusal)) }
        shared.wake.signal()
    }

    /// `body`'s result once it is durable.
    public nonisolated(nonsending) func write<T: Sendable>(_ body: @escaping @Sendable (SQLiteDatabase) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            submit(body) { continuation.resume(with: $0) }
        }
    }

    /// Refuses new writes, waits until the queued ones are durable and the connection is closed.
    /// Every caller waits, however many call it; never call it from a completion.
    public func close() {
        precondition(shared.thread.withLock { $0 } != ObjectIdentifier(Thread.current),
                     "GroupCommitWriter.close() called on its own writer thread")
        shared.queue.withLock { $0.closing = true }
        shared.wake.signal()
        shared.finished.wait()
        shared.finished.signal()  // for the next caller
    }

    /// The writer thread: waits for writes, commits them in groups, until closed and drained.
    private static func serve(_ connection: Connection, _ shared: Shared) {
        while true {
            shared.wake.wait()
            while true {
                let (group, closing) = shared.queue.withLock { queue in
                    let taken = Array(queue.jobs.prefix(maxGroup))
                    queue.jobs.removeFirst(taken.count)
                    return (taken, queue.closing)
                }
                if group.isEmpty {
                    guard closing else { break }
                    connection.database = nil
                    shared.finished.signal()
                    return
                }
                commit(group, in: connection, shared)
            }
        }
    }

    /// Runs `group` in one transaction and calls each completion once the commit returned.
    private static func commit(_ group: [Job], in connection: Connection, _ shared: Shared) {
        var finishes: [@Sendable ((any Error)?) -> Void] = []
        finishes.reserveCapacity(group.count)
        var failure: (any Error)?
        do {
            if connection.database == nil { connection.database = try SQLiteDatabase(path: connection.path) }
            guard let database = connection.database else { throw StorageError("\(connection.path): no connection") }
            try database.transaction { () throws(StorageError) in
                for job in group {
                    try database.query("SAVEPOINT carrier_group_write")
                    let outcome = job.run(database)
                    if !outcome.succeeded { try database.query("ROLLBACK TO carrier_group_write") }
                    try database.query("RELEASE carrier_group_write")
                    finishes.append(outcome.finish)
                }
            }
            shared.groups.add(1, ordering: .relaxed)
            shared.writes.add(group.count, ordering: .relaxed)
        } catch {
            // A connection still inside a transaction (its ROLLBACK failed too) would refuse every
            // later BEGIN: reopen it.
            if connection.database?.isInTransaction == true { connection.database = nil }
            failure = error
        }
        for finish in finishes { finish(failure) }
        // Writes the failure kept from running (or from finishing their savepoint) fail with it.
        if let failure {
            for job in group.dropFirst(finishes.count) { job.abandon(failure) }
        }
    }
}
