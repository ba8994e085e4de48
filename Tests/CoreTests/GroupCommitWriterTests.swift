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

    @Test func writesArrivingTogetherShareCommitsAndAreReadableWhenAcknowledged() async throws {
        try makeTable()
        let writer = try GroupCommitWriter(path: path)
        let path = self.path
        // Each completion reads the file through a connection of its own: the write is there.
        final class Count: Sendable { let value = Atomic<Int>(0) }
        let unreadable = Count()
        await withTaskGroup(of: Void.self) { group in
            for n in 0..<300 {
                group.addTask {
                    await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                        writer.submit({ database in
                            try database.query("INSERT INTO items (n) VALUES (?)", [.integer(Int64(n))])
                        }, completion: { result in
                            let rows = try? SQLiteDatabase(path: path).query("SELECT n FROM items WHERE n = ?", [.integer(Int64(n))])
                            if (try? result.get()) == nil || rows?.count != 1 { unreadable.value.add(1, ordering: .relaxed) }
                            done.resume()
                        })
                    }
                }
            }
        }
        #expect(unreadable.value.load(ordering: .relaxed) == 0, "every acknowledged write is on disk")
        #expect(try storedCount() == 300)
        #expect(writer.writesDone == 300)
        // 300 writes submitted at once, each commit an fsync: they cannot have taken 300 commits.
        #expect(writer.groupsCommitted < 300, "\(writer.groupsCommitted) commits for 300 writes")
        print("GroupCommitWriterTests: 300 concurrent writes in \(writer.groupsCommitted) commits")
    }

    @Test func aWriteThatThrowsIsUndoneAloneAndTheOthersOfItsGroupStay() async throws {
        try makeTable()
        let writer = try GroupCommitWriter(path: path)
        struct Refused: Error {}
        final class Outcomes: Sendable { let byWrite = Mutex<[Int: Bool]>([:]) }
        let outcomes = Outcomes()
        let done = AsyncStream.makeStream(of: Void.self)
        for n in 0..<3 {
            writer.submit({ database in
                try database.query("INSERT INTO items (n) VALUES (?)", [.integer(Int64(10 + n))])
                if n == 1 { throw Refused() }  // after its insert: the savepoint must take it back
            }, completion: { result in
                outcomes.byWrite.withLock { $0[n] = (try? result.get()) != nil }
                done.continuation.yield()
            })
        }
        var finished = 0
        for await _ in done.stream {
            finished += 1
            if finished == 3 { break }
        }
        #expect(outcomes.byWrite.withLock { $0 } == [0: true, 1: false, 2: true])
        let rows = try SQLiteDatabase(path: path).query("SELECT n FROM items ORDER BY n").map { try $0.integer(0) }
        #expect(rows == [10, 12])
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
