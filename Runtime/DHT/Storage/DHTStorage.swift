import CarrierCore
import Synchronization

/// The values and peer records a node stores for the DHT, in a `DHTStore` file of its own or one
/// it shares with the other nodes of its process, under its node id (WAL, every write fsynced
/// before it is acknowledged).
///
/// Writes go to the store's `GroupCommitWriter`: its own thread and connection, the writes that
/// arrive during one fsync committed together by the next, each answered once durable. So no
/// caller waits on the disk: the DHT answers a STORE_VALUE when its completion comes. Reads use a
/// second connection and see every committed write (WAL readers never wait for the writer).
///
/// The rules are the protocol's (BOSON-WIRE.md §4, §7, §9): an item lives 2 hours after its last
/// store; a mutable value's content is replaced only by a strictly greater `seq`, and the same
/// value again refreshes it; `cas` fails (301) when the stored `seq` is greater than it; a value
/// cannot change between mutable and immutable (303); invalid values and records are refused with
/// 401/402. Where the reference silently keeps the stored value and answers success to a lower
/// `seq`, or to other content at the same `seq`, Carrier refuses with 302 (SequenceNotMonotonic), so
/// the writer learns its write was not taken (docs/decisions.md). The very value or peer record
/// stored, sent again with the `cas` it first met, is a refresh, not a 301: a retried conditional store must not fail
/// because its first attempt succeeded. Carrier adds per-node limits (the
/// reference has none), refused with 201. Items the node
/// publishes itself are `persistent`: never purged, and listed for republishing. Times are wall-clock
/// milliseconds (they must survive a restart). Thread-safe.
public final class DHTStorage: Sendable {
    /// How long an item lives after its last store or announcement.
    public static let maxAge: Int64 = 2 * 60 * 60_000

    /// Limits on what one node stores for others.
    public struct Limits: Sendable {
        /// Most values stored (persistent ones included).
        public var maxValues = 65_536
        /// Most peer records stored.
        public var maxPeers = 65_536
        /// Most records per peer id (different fingerprints).
        public var maxRecordsPerPeer = 64
        public init() {}
    }

    public let limits: Limits
    /// Every change of stored content, once durable: values stored or updated, peer records announced.
    public let changes = EventBroadcaster<DHTEvent>()
    public let store: DHTStore
    /// The node whose items these are (the `owner` of their rows).
    public let owner: Id
    private var writer: GroupCommitWriter { store.writer }

    /// `owner`'s items in `store`, which other nodes may share.
    public init(store: DHTStore, owner: Id, limits: Limits = Limits()) {
        self.store = store
        self.owner = owner
        self.limits = limits
    }

    /// `owner`'s items in a store file of their own at `path` (created when missing). Items
    /// migrated from a store of schema version 1 (one node's, with no owner) become `owner`'s.
    public convenience init(path: String, owner: Id, limits: Limits = Limits()) throws(StorageError) {
        let store = try DHTStore(path: path)
        try store.reader.withLock { (database) throws(StorageError) in
            try database.transaction { () throws(StorageError) in
                for table in ["dht_values", "dht_peers"] {
                    try database.query("UPDATE \(table) SET owner = ? WHERE owner = X''", [.blob(owner.bytes)])
                }
            }
        }
        self.init(store: store, owner: owner, limits: limits)
    }

    // MARK: Values

    /// Stores `value` (a STORE_VALUE, or our own `persistent` publication). `completion` (on the
    /// writer thread) gets, once the write is durable, true if the content changed (a new value or
    /// a greater `seq`, also sent to `changes`), false if it only refreshed the stored one; or the
    /// protocol error that refused it. An invalid value is refused at once, on the caller's thread.
    public func putValue(_ value: Value, cas: Int32? = nil, persistent: Bool = false, now: Int64,
                         completion: @escaping @Sendable (Result<Bool, ProtocolError>) -> Void) {
        do { try value.validate() } catch { return completion(.failure(error)) }
        let limits = self.limits, owner = self.owner
        submit(announcing: .valueUpdated(value), completion: completion) { database throws(ProtocolError) in
            try Self.storeValue(value, cas: cas, persistent: persistent, now: now, limits: limits, owner: owner, in: database)
        }
    }

    /// `putValue`, awaited: whether the content changed, once durable.
    @discardableResult
    public nonisolated(nonsending) func putValue(_ value: Value, cas: Int32? = nil, persistent: Bool = false, now: Int64) async throws(ProtocolError) -> Bool {
        try await durably { putValue(value, cas: cas, persistent: persistent, now: now, completion: $0) }
    }

    /// The write of `putValue`, in the writer's transaction.
    private static func storeValue(_ value: Value, cas: Int32?, persistent: Bool, now: Int64, limits: Limits, owner: Id,
                                   in database: SQLiteDatabase) throws(ProtocolError) -> Bool {
        let id = value.id
        let key: [SQLiteValue] = [.blob(owner.bytes), .blob(id.bytes)]
        let existing = try storageCall { () throws(StorageError) in
            try database.query("SELECT public_key IS NOT NULL, seq, signature FROM dht_values WHERE owner = ? AND id = ?", key).first
        }
        if let existing {
            let (storedMutable, storedSequence, storedSignature) = try storageCall { () throws(StorageError) in
                (try existing.integer(0) != 0, Int32(truncatingIfNeeded: try existing.integer(1)), try existing.optionalBlob(2))
            }
            guard storedMutable == (value.publicKey != nil) else {
                throw ProtocolError(.immutableSubstitutionFail, "a value with this id exists as \(storedMutable ? "mutable" : "immutable")")
            }
            try Self.check(cas: cas, stored: storedSequence, resent: storedSequence == value.sequenceNumber && storedSignature == value.signature)
            if value.publicKey != nil {
                if storedSequence > value.sequenceNumber {
                    throw ProtocolError(.sequenceNotMonotonic, "stored seq \(storedSequence) is greater than \(value.sequenceNumber)")
                }
                if storedSequence == value.sequenceNumber, storedSignature != value.signature {
                    throw ProtocolError(.sequenceNotMonotonic, "another value is stored with seq \(storedSequence): write a greater one")
                }
            }
            return try storageCall { () throws(StorageError) -> Bool in
                if value.sequenceNumber > storedSequence {
                    try database.query("""
                        UPDATE dht_values SET public_key = ?, recipient = ?, nonce = ?, seq = ?, signature = ?, data = ?,
                        updated = ?, persistent = max(persistent, ?) WHERE owner = ? AND id = ?
                        """, Self.valueColumns(value) + [.integer(now), .integer(persistent ? 1 : 0)] + key)
                    return true
                }
                try database.query("UPDATE dht_values SET updated = ?, persistent = max(persistent, ?) WHERE owner = ? AND id = ?",
                                   [.integer(now), .integer(persistent ? 1 : 0)] + key)
                return false
            }
        }
        let count = try storageCall { () throws(StorageError) in
            try database.query("SELECT count(*) FROM dht_values WHERE owner = ?", [.blob(owner.bytes)])[0].integer(0)
        }
        guard count < limits.maxValues else { throw ProtocolError(.genericError, "value storage is full (\(limits.maxValues) values)") }
        try storageCall { () throws(StorageError) in
            try database.query("""
                INSERT INTO dht_values (public_key, recipient, nonce, seq, signature, data, owner, id, persistent, created, updated, announced)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)
                """, Self.valueColumns(value) + key + [.integer(persistent ? 1 : 0), .integer(now), .integer(now)])
        }
        return true
    }

    /// The live value with `id`; for a mutable value only if its `seq` ≥ `cas` (when given).
    public func value(_ id: Id, cas: Int32? = nil, now: Int64) throws(StorageError) -> Value? {
        let rows = try store.reader.withLock { (database) throws(StorageError) in
            try database.query("""
                SELECT public_key, recipient, nonce, seq, signature, data FROM dht_values
                WHERE owner = ? AND id = ? AND (persistent = 1 OR updated > ?)
                """, [.blob(owner.bytes), .blob(id.bytes), .integer(now - Self.maxAge)])
        }
        guard let row = rows.first, let value = Self.value(from: row) else { return nil }
        if let cas, value.publicKey != nil, value.sequenceNumber < cas { return nil }
        return value
    }

    // MARK: Peers

    /// Stores a peer record (an ANNOUNCE_PEER, or our own `persistent` announcement).
    /// `completion` (on the writer thread) gets, once durable, true if the record is new or has a
    /// greater `seq` (also sent to `changes`); or the protocol error that refused it.
    public func putPeer(_ peer: PeerInfo, cas: Int32? = nil, persistent: Bool = false, now: Int64,
                        completion: @escaping @Sendable (Result<Bool, ProtocolError>) -> Void) {
        do { try peer.validate() } catch { return completion(.failure(error)) }
        let limits = self.limits, owner = self.owner
        submit(announcing: .peerAnnounced(peer), completion: completion) { database throws(ProtocolError) in
            try Self.storePeer(peer, cas: cas, persistent: persistent, now: now, limits: limits, owner: owner, in: database)
        }
    }

    /// `putPeer`, awaited: whether the record is new or newer, once durable.
    @discardableResult
    public nonisolated(nonsending) func putPeer(_ peer: PeerInfo, cas: Int32? = nil, persistent: Bool = false, now: Int64) async throws(ProtocolError) -> Bool {
        try await durably { putPeer(peer, cas: cas, persistent: persistent, now: now, completion: $0) }
    }

    /// The write of `putPeer`, in the writer's transaction.
    private static func storePeer(_ peer: PeerInfo, cas: Int32?, persistent: Bool, now: Int64, limits: Limits, owner: Id,
                                  in database: SQLiteDatabase) throws(ProtocolError) -> Bool {
        let key: [SQLiteValue] = [.blob(owner.bytes), .blob(peer.peerId.bytes), .integer(peer.fingerprint)]
        let existing = try storageCall { () throws(StorageError) in
            try database.query("SELECT seq, signature FROM dht_peers WHERE owner = ? AND id = ? AND fingerprint = ?", key).first
        }
        if let existing {
            let (storedSequence, storedSignature) = try storageCall { () throws(StorageError) in
                (Int32(truncatingIfNeeded: try existing.integer(0)), try existing.blob(1))
            }
            try Self.check(cas: cas, stored: storedSequence, resent: storedSequence == peer.sequenceNumber && storedSignature == peer.signature)
            return try storageCall { () throws(StorageError) -> Bool in
                if peer.sequenceNumber > storedSequence {
                    try database.query("""
                        UPDATE dht_peers SET node_id = ?, node_signature = ?, seq = ?, endpoint = ?, extra = ?, signature = ?,
                        updated = ?, persistent = max(persistent, ?) WHERE owner = ? AND id = ? AND fingerprint = ?
                        """, Self.peerColumns(peer) + [.integer(now), .integer(persistent ? 1 : 0)] + key)
                    return true
                }
                try database.query("UPDATE dht_peers SET updated = ?, persistent = max(persistent, ?) WHERE owner = ? AND id = ? AND fingerprint = ?",
                                   [.integer(now), .integer(persistent ? 1 : 0)] + key)
                return false
            }
        }
        let (total, forPeer) = try storageCall { () throws(StorageError) in
            let row = try database.query("SELECT count(*), count(CASE WHEN id = ? THEN 1 END) FROM dht_peers WHERE owner = ?",
                                         [.blob(peer.peerId.bytes), .blob(owner.bytes)])[0]
            return (try row.integer(0), try row.integer(1))
        }
        guard total < limits.maxPeers else { throw ProtocolError(.genericError, "peer storage is full (\(limits.maxPeers) records)") }
        guard forPeer < limits.maxRecordsPerPeer else {
            throw ProtocolError(.genericError, "\(peer.peerId) already has \(limits.maxRecordsPerPeer) records")
        }
        try storageCall { () throws(StorageError) in
            try database.query("""
                INSERT INTO dht_peers (node_id, node_signature, seq, endpoint, extra, signature, owner, id, fingerprint, persistent, created, updated, announced)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)
                """, Self.peerColumns(peer) + key + [.integer(persistent ? 1 : 0), .integer(now), .integer(now)])
        }
        return true
    }

    /// Up to `limit` live records for `peerId` with `seq` ≥ `cas` (when given): highest `seq` first,
    /// then most recently updated, then by fingerprint, as the reference orders them.
    public func peers(_ peerId: Id, cas: Int32? = nil, limit: Int, now: Int64) throws(StorageError) -> [PeerInfo] {
        let rows = try store.reader.withLock { (database) throws(StorageError) in
            try database.query("""
                SELECT id, node_id, node_signature, seq, fingerprint, endpoint, extra, signature FROM dht_peers
                WHERE owner = ? AND id = ? AND seq >= ? AND (persistent = 1 OR updated > ?)
                ORDER BY seq DESC, updated DESC, fingerprint LIMIT ?
                """, [.blob(owner.bytes), .blob(peerId.bytes), .integer(Int64(cas ?? 0)), .integer(now - Self.maxAge), .integer(Int64(limit))])
        }
        return rows.compactMap(Self.peer(from:))
    }

    // MARK: Expiry and republishing

    /// Deletes items stored for others that were not refreshed in the last 2 hours, in the whole
    /// store (whichever node stored them: one that left a shared store leaves none behind);
    /// returns how many, once durable.
    @discardableResult
    public nonisolated(nonsending) func purgeExpired(now: Int64) async throws(StorageError) -> Int {
        try await write { database throws(StorageError) in
            let cutoff: [SQLiteValue] = [.integer(now - Self.maxAge)]
            let values = try database.query("DELETE FROM dht_values WHERE persistent = 0 AND updated <= ? RETURNING 1", cutoff).count
            let peers = try database.query("DELETE FROM dht_peers WHERE persistent = 0 AND updated <= ? RETURNING 1", cutoff).count
            return values + peers
        }
    }

    /// Our own values last announced before `olderThan` (ms ago), for the republish task.
    public func valuesToRepublish(now: Int64, olderThan age: Int64) throws(StorageError) -> [Value] {
        let rows = try store.reader.withLock { (database) throws(StorageError) in
            try database.query("""
                SELECT public_key, recipient, nonce, seq, signature, data FROM dht_values WHERE owner = ? AND persistent = 1 AND announced <= ?
                """, [.blob(owner.bytes), .integer(now - age)])
        }
        return rows.compactMap(Self.value(from:))
    }

    /// Our own peer records last announced before `olderThan` (ms ago).
    public func peersToRepublish(now: Int64, olderThan age: Int64) throws(StorageError) -> [PeerInfo] {
        let rows = try store.reader.withLock { (database) throws(StorageError) in
            try database.query("""
                SELECT id, node_id, node_signature, seq, fingerprint, endpoint, extra, signature FROM dht_peers
                WHERE owner = ? AND persistent = 1 AND announced <= ?
                """, [.blob(owner.bytes), .integer(now - age)])
        }
        return rows.compactMap(Self.peer(from:))
    }

    /// Records that our value `id` was just announced to the network.
    public nonisolated(nonsending) func markValueAnnounced(_ id: Id, now: Int64) async throws(StorageError) {
        let owner = self.owner
        _ = try await write { database throws(StorageError) in
            try database.query("UPDATE dht_values SET announced = ? WHERE owner = ? AND id = ?", [.integer(now), .blob(owner.bytes), .blob(id.bytes)])
        }
    }

    /// Records that our peer record (`peerId`, `fingerprint`) was just announced.
    public nonisolated(nonsending) func markPeerAnnounced(_ peerId: Id, fingerprint: Int64, now: Int64) async throws(StorageError) {
        let owner = self.owner
        _ = try await write { database throws(StorageError) in
            try database.query("UPDATE dht_peers SET announced = ? WHERE owner = ? AND id = ? AND fingerprint = ?",
                               [.integer(now), .blob(owner.bytes), .blob(peerId.bytes), .integer(fingerprint)])
        }
    }

    /// Stops republishing our peer record (`peerId`, `fingerprint`) if it still has
    /// `sequenceNumber` (a newer record stays): it then expires like any other.
    public nonisolated(nonsending) func forgetPersistentPeer(_ peerId: Id, fingerprint: Int64, sequenceNumber: Int32) async throws(StorageError) {
        let owner = self.owner
        _ = try await write { database throws(StorageError) in
            try database.query("UPDATE dht_peers SET persistent = 0 WHERE owner = ? AND id = ? AND fingerprint = ? AND seq = ?",
                               [.blob(owner.bytes), .blob(peerId.bytes), .integer(fingerprint), .integer(Int64(sequenceNumber))])
        }
    }

    /// How many values and peer records are stored (live or not yet purged).
    public func counts() throws(StorageError) -> (values: Int, peers: Int) {
        try store.reader.withLock { (database) throws(StorageError) in
            let row = try database.query("SELECT (SELECT count(*) FROM dht_values WHERE owner = ?1), (SELECT count(*) FROM dht_peers WHERE owner = ?1)",
                                         [.blob(owner.bytes)])[0]
            return (Int(try row.integer(0)), Int(try row.integer(1)))
        }
    }

    // MARK: Rows

    /// A protocol write through the writer: `completion` gets its result once durable, and
    /// `event` goes to `changes` when it changed the stored content.
    private func submit(announcing event: DHTEvent, completion: @escaping @Sendable (Result<Bool, ProtocolError>) -> Void,
                        _ body: @escaping @Sendable (SQLiteDatabase) throws(ProtocolError) -> Bool) {
        let changes = self.changes
        writer.submit(body) { result in
            let outcome = Self.protocolResult(result)
            if case .success(true) = outcome { changes.send(event) }
            completion(outcome)
        }
    }

    /// A write's `cas` against the stored item's `seq`: CasFail when the item is newer than what
    /// the writer read, unless the write is the very item stored, sent again (a retry whose first
    /// answer was late or lost), which met its `cas` when it was first stored: a refresh.
    private static func check(cas: Int32?, stored: Int32, resent: Bool) throws(ProtocolError) {
        if let cas, stored > cas, !resent { throw ProtocolError(.casFail, "stored seq \(stored) is greater than cas \(cas)") }
    }

    /// A protocol write started with its completion, awaited until durable.
    private nonisolated(nonsending) func durably(_ start: (@escaping @Sendable (Result<Bool, ProtocolError>) -> Void) -> Void) async throws(ProtocolError) -> Bool {
        try await withCheckedContinuation { continuation in start { continuation.resume(returning: $0) } }.get()
    }

    /// A maintenance write through the writer, awaited until durable.
    private nonisolated(nonsending) func write<T: Sendable>(_ body: @escaping @Sendable (SQLiteDatabase) throws(StorageError) -> T) async throws(StorageError) -> T {
        do {
            return try await writer.write(body)
        } catch let error as StorageError {
            throw error
        } catch {
            throw StorageError("\(writer.path): \(error)")
        }
    }

    /// A write's result as the protocol answers it: its own refusal; 201 (GenericError) when too
    /// many writes wait for the disk; otherwise error 1 (IOError), what the reference sends when
    /// its storage fails.
    private static func protocolResult(_ result: Result<Bool, any Error>) -> Result<Bool, ProtocolError> {
        result.mapError { error in
            if let refusal = error as? ProtocolError { return refusal }
            if error is GroupCommitWriter.Busy { return ProtocolError(.genericError, "\(error)") }
            return ProtocolError(.ioError, "storage: \(error)")
        }
    }

    /// Runs a read or write inside a write's body; a storage failure becomes error 1 (IOError).
    @discardableResult
    private static func storageCall<T>(_ body: () throws(StorageError) -> T) throws(ProtocolError) -> T {
        do { return try body() } catch { throw ProtocolError(.ioError, "storage: \(error)") }
    }

    private static func valueColumns(_ value: Value) -> [SQLiteValue] {
        [.blob(value.publicKey?.bytes), .blob(value.recipient?.bytes), .blob(value.nonce), .integer(Int64(value.sequenceNumber)),
         .blob(value.signature), .blob(value.data)]
    }

    private static func peerColumns(_ peer: PeerInfo) -> [SQLiteValue] {
        [.blob(peer.nodeId?.bytes), .blob(peer.nodeSignature), .integer(Int64(peer.sequenceNumber)), .text(peer.endpoint),
         .blob(peer.extra), .blob(peer.signature)]
    }

    /// A value from `public_key, recipient, nonce, seq, signature, data`; nil for a row that does not
    /// make one (a damaged file: a wrongly typed column, or an id of the wrong length), which is then
    /// treated as absent.
    private static func value(from row: SQLiteRow) -> Value? {
        try? readValue(row)
    }

    private static func readValue(_ row: SQLiteRow) throws(StorageError) -> Value? {
        let publicKeyBytes = try row.optionalBlob(0), recipientBytes = try row.optionalBlob(1)
        let publicKey = publicKeyBytes.flatMap { Id(bytes: $0) }
        let recipient = recipientBytes.flatMap { Id(bytes: $0) }
        guard (publicKeyBytes == nil) == (publicKey == nil), (recipientBytes == nil) == (recipient == nil) else { return nil }
        return Value(publicKey: publicKey, recipient: recipient, nonce: try row.optionalBlob(2),
                     sequenceNumber: Int32(truncatingIfNeeded: try row.integer(3)), signature: try row.optionalBlob(4), data: try row.blob(5))
    }

    /// A peer record from `id, node_id, node_signature, seq, fingerprint, endpoint, extra, signature`;
    /// nil for a row of a damaged file.
    private static func peer(from row: SQLiteRow) -> PeerInfo? {
        try? readPeer(row)
    }

    private static func readPeer(_ row: SQLiteRow) throws(StorageError) -> PeerInfo? {
        guard let peerId = Id(bytes: try row.blob(0)) else { return nil }
        return PeerInfo(peerId: peerId, nodeId: try row.optionalBlob(1).flatMap { Id(bytes: $0) }, nodeSignature: try row.optionalBlob(2),
                        sequenceNumber: Int32(truncatingIfNeeded: try row.integer(3)), fingerprint: try row.integer(4),
                        endpoint: try row.text(5), extra: try row.optionalBlob(6), signature: try row.blob(7))
    }
}
