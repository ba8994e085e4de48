import CarrierCore
import Synchronization

/// One DHT store file: a reading connection and a group-commit writer (`GroupCommitWriter`). A
/// node opens its own (`dataDirectory/dht.sqlite`); the nodes of one process (a testnet, a
/// benchmark) may share one, each keeping its items under its own id (`DHTStorage`), so their
/// writes share commits and their fsyncs: the 16 stores of one put take a group commit or two
/// instead of 16 disk flushes in turn. Thread-safe.
///
/// ```swift
/// let store = try DHTStore(path: directory + "/dht.sqlite")
/// var configuration = DHTNode.Configuration(listen: endpoint, dataDirectory: nodeDirectory)
/// configuration.store = store
/// ```
public final class DHTStore: Sendable {
    public let path: String
    /// The reading connection (WAL: it reads the last committed state, never waiting for a commit).
    let reader: Mutex<SQLiteDatabase>
    let writer: GroupCommitWriter
    /// When the last purge of expired items was claimed (wall-clock ms).
    private let lastPurge = Mutex<Int64?>(nil)

    /// How often the store's expired items are purged, whichever of its nodes asks.
    public static let purgeInterval: Int64 = 10_000

    /// Opens (creating when missing) the store file at `path`; one of a newer version or of an
    /// unknown layout is refused (`DHTSchema`).
    public init(path: String) throws(StorageError) {
        let database = try SQLiteDatabase(path: path)
        try DHTSchema.schema.open(database)
        self.path = path
        reader = Mutex(database)
        writer = try GroupCommitWriter(path: path)
    }

    /// Whether a purge of the store's expired items is due at `now`, claiming it when it is: once
    /// per `purgeInterval` for the whole store, since a purge covers every node's items (each
    /// node's maintenance asks every 10 s; 256 nodes sharing a store would purge it 25 times a
    /// second).
    public func claimPurge(now: Int64) -> Bool {
        lastPurge.withLock { last in
            if let last, now - last < Self.purgeInterval, now >= last { return false }
            last = now
            return true
        }
    }

    /// Transactions committed by the writer, and the writes they held (one fsync each group).
    public var commits: (groups: Int, writes: Int) { (writer.groupsCommitted, writer.writesDone) }
}
