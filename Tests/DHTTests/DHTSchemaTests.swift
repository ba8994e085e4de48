import CarrierCore
import CarrierDHT
import Foundation
import Testing

/// The DHT store's schema version: a store of one node, written before versioning or at version
/// 1, is migrated to version 2 with its items kept for the node that opens it; one of a newer
/// version or of another layout is refused and left as it was.
struct DHTSchemaTests {
    let path = NSTemporaryDirectory() + "carrier-dht-schema-\(UUID().uuidString).sqlite"

    /// A store as Carrier wrote it before version 2 (one node's, no owner), holding `value`.
    private func writeVersion1Store(holding value: Value, userVersion: Int32) throws {
        let database = try SQLiteDatabase(path: path)
        try database.execute("""
            CREATE TABLE dht_values (
                id BLOB PRIMARY KEY, public_key BLOB, recipient BLOB, nonce BLOB, seq INTEGER NOT NULL,
                signature BLOB, data BLOB NOT NULL, persistent INTEGER NOT NULL,
                created INTEGER NOT NULL, updated INTEGER NOT NULL, announced INTEGER NOT NULL);
            CREATE INDEX dht_values_updated ON dht_values(updated);
            CREATE TABLE dht_peers (
                id BLOB NOT NULL, fingerprint INTEGER NOT NULL, node_id BLOB, node_signature BLOB,
                seq INTEGER NOT NULL, endpoint TEXT NOT NULL, extra BLOB, signature BLOB NOT NULL,
                persistent INTEGER NOT NULL, created INTEGER NOT NULL, updated INTEGER NOT NULL,
                announced INTEGER NOT NULL, PRIMARY KEY (id, fingerprint));
            CREATE INDEX dht_peers_updated ON dht_peers(updated);
            PRAGMA user_version = \(userVersion);
            """)
        try database.query("""
            INSERT INTO dht_values (id, public_key, recipient, nonce, seq, signature, data, persistent, created, updated, announced)
            VALUES (?, ?, NULL, ?, ?, ?, ?, 1, 0, 0, 0)
            """, [.blob(value.id.bytes), .blob(value.publicKey?.bytes), .blob(value.nonce), .integer(Int64(value.sequenceNumber)),
                  .blob(value.signature), .blob(value.data)])
    }

    @Test(arguments: [Int32(0), 1])
    func aStoreOfOneNodeIsMigratedAndItsItemsClaimedByTheFirstNodeToOpenIt(userVersion: Int32) async throws {
        let owner = KeyPair.random()
        let value = Value.signed(by: owner, sequenceNumber: 3, data: Array("kept".utf8))
        try writeVersion1Store(holding: value, userVersion: userVersion)
        let node = Id.random()
        let storage = try DHTStorage(path: path, owner: node)
        #expect(try SQLiteSchema.userVersion(SQLiteDatabase(path: path)) == 2)
        #expect(try storage.value(owner.publicKey, now: 1) == value)
        #expect(try storage.valuesToRepublish(now: 1, olderThan: 0) == [value], "still persistent")
        #expect(try DHTStorage(path: path, owner: .random()).value(owner.publicKey, now: 1) == nil, "claimed once, by the first")
        #expect(try DHTStorage(path: path, owner: node).value(owner.publicKey, now: 1) == value)
    }

    @Test func aStoreFromANewerVersionIsRefused() throws {
        _ = try DHTStore(path: path)
        try SQLiteDatabase(path: path).execute("PRAGMA user_version = 3")
        let error = #expect(throws: StorageError.self) { try DHTStore(path: path) }
        #expect(error?.description.contains("a DHT store of schema version 3, newer than this Carrier's 2") == true, "\(String(describing: error))")
    }

    @Test func aFileOfAnotherLayoutIsRefused() throws {
        try SQLiteDatabase(path: path).execute("CREATE TABLE notes (text TEXT)")
        let error = #expect(throws: StorageError.self) { try DHTStore(path: path) }
        #expect(error?.description.contains("not an unversioned DHT store") == true, "\(String(describing: error))")
        #expect(error?.description.contains("table notes") == true, "\(String(describing: error))")
    }
}
