import CarrierCore
import Foundation
import Synchronization
import Testing

/// Group commit on a real SQLite file: writes that arrive together share one transaction, each
/// is acknowledged only once another connection can read it, a write that throws is undone alone,
/// and closing drains what was queued.
struct GroupCommitWriterTests {
    let path = NSTemporaryDirectory() + "carrier-group-commit-\(UUID().uuidString).sqlite"

    private func makeTable() throws {
        try SQLiteDatabase(path: path).execute("CREATE TABLE items (n INTEGER PRIMARY KEY)")
    }

    private func storedCount() throws -> Int64 {
        try SQLiteDatabase(path: path).query("SELECT count(*) FROM items")[0].integer(0)
    }

    /// Holds the writer thread in a write until `release` is signalled; returns once it is held
    /// (so what is submitted next waits in the queue, and makes one group).
    private static func hold(_ writer: GroupCommitWriter, until release: DispatchSemaphore) async throws {
        final class Flag: Sendable { let raised = Atomic<Bool>(false) }
        let held = Flag()
        writer.submit({ _ in
            held.raised.store(true, ordering: .relaxed)
            release.wait()
        }, completion: { _ in })
        while !held.raised.load(ordering: .relaxed) { try await Task.sleep(for: .milliseconds(2)) }
    }

    @Test func writesWaitingTogetherShareOneCommitAndAreReadableWhenAcknowledged() async throws {
        try makeTable()
        let writer = try GroupCommitWriter(path: path)
        let path = self.path
        let release = DispatchSemaphore(value: 0)
        try await Self.hold(writer, until: release)
        // Each completion reads the file through a connection of its own: the write is there.
        final class Count: Sendable { let value = Atomic<Int>(0) }
        let unreadable = Count()
        let done = AsyncStream.makeStream(of: Void.self)
        for n in 0..<300 {
            writer.submit({ database in
                try database.query("INSERT INTO items (n) VALUES (?)", [.integer(Int64(n))])
            }, completion: { result in
                let rows = try? SQLiteDatabase(path: path).query("SELECT n FROM items WHERE n = ?", [.integer(Int64(n))])
                if (try? result.get()) == nil || rows?.count != 1 { unreadable.value.add(1, ordering: .relaxed) }
                done.continuation.yield()
            })
        }
        release.signal()
        var finished = 0
        for await _ in done.stream {
            finished += 1
            if finished == 300 { break }
        }
        #expect(unreadable.value.load(ordering: .relaxed) == 0, "every acknowledged write is on disk")
        #expect(try storedCount() == 300)
        #expect(writer.writesDone == 301)
        #expect(writer.groupsCommitted == 2, "the held write, then the 300 that waited, in one commit")
    }

    @Test func aWriteThatThrowsIsUndoneAloneAndTheOthersOfItsGroupStay() async throws {
        try makeTable()
        let writer = try GroupCommitWriter(path: path)
        struct Refused: Error {}
        final class Outcomes: Sendable { let byWrite = Mutex<[Int: Bool]>([:]) }
        let outcomes = Outcomes()
        let done = AsyncStream.makeStream(of: Void.self)
        // The writer thread is held until the three are queued: they then make one group.
        let gate = DispatchSemaphore(value: 0)
        try await Self.hold(writer, until: gate)
        for n in 0..<3 {
            writer.submit({ database in
                try database.query("INSERT INTO items (n) VALUES (?)", [.integer(Int64(10 + n))])
                if n == 1 { throw Refused() }  // after its insert: the savepoint must take it back
            }, completion: { result in
                outcomes.byWrite.withLock { $0[n] = (try? result.get()) != nil }
                done.continuation.yield()
            })
        }
        gate.signal()
        var finished = 0
        for await _ in done.stream {
            finished += 1
            if finished == 3 { break }
        }
        #expect(outcomes.byWrite.withLock { $0 } == [0: true, 1: false, 2: true])
        #expect(writer.groupsCommitted == 2, "the held write, then the three together")
        let rows = try SQLiteDatabase(path: path).query("SELECT n FROM items ORDER BY n").map { try $0.integer(0) }
        #expect(rows == [10, 12])
    }

    @Test func writesBeyondTheQueueBoundAreRefusedAtOnce() async throws {
        try makeTable()
        let writer = try GroupCommitWriter(path: path)
        let gate = DispatchSemaphore(value: 0)
        try await Self.hold(writer, until: gate)
        for n in 0..<GroupCommitWriter.maxQueued {
            writer.submit({ database in try database.query("INSERT INTO items (n) VALUES (?)", [.integer(Int64(n))]) }, completion: { _ in })
        }
        let refused = await withCheckedContinuation { continuation in
            writer.submit({ _ in }, completion: { continuation.resume(returning: $0) })
        }
        gate.signal()
        guard case .failure(let error) = refused else { Issue.record("a write beyond the bound was queued"); return }
        #expect(error is GroupCommitWriter.Busy, "\(error)")
        writer.close()
        #expect(try storedCount() == Int64(GroupCommitWriter.maxQueued), "every queued write is durable")
    }

    @Test func closingWaitsForQueuedWritesAndRefusesLaterOnes() async throws {
        try makeTable()
        let writer = try GroupCommitWriter(path: path)
        for n in 0..<50 {
            writer.submit({ database in try database.query("INSERT INTO items (n) VALUES (?)", [.integer(Int64(n))]) }, completion: { _ in })
        }
        writer.close()
        #expect(try storedCount() == 50, "close returns once the queue is durable")
        let late = await withCheckedContinuation { continuation in
            writer.submit({ database in try database.query("INSERT INTO items (n) VALUES (99)") }, completion: { continuation.resume(returning: $0) })
        }
        guard case .failure(let error) = late else { Issue.record("a write after close was taken"); return }
        #expect("\(error)".contains("the writer is closed"), "\(error)")
        #expect(try storedCount() == 50)
    }

    @Test func awaitedWritesReturnTheirResult() async throws {
        try makeTable()
        let writer = try GroupCommitWriter(path: path)
        let inserted = try await writer.write { database in
            try database.query("INSERT INTO items (n) VALUES (7), (8) RETURNING n").count
        }
        #expect(inserted == 2)
        await #expect(throws: StorageError.self) {
            try await writer.write { database in try database.query("INSERT INTO nowhere VALUES (1)") }
        }
        #expect(try storedCount() == 2)
    }
}
