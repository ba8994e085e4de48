import CarrierCore
import CarrierDHT
import Foundation
import Testing

/// The DHT store's schema version: a store written before versioning is stamped and kept; one of
/// a newer version or of another layout is refused and left as it was.
struct DHTSchemaTests {
    let path = NSTemporaryDirectory() + "carrier-dht-schema-\(UUID().uuidString).sqlite"

    @Test func anUnversionedStoreIsStampedWithItsValuesKept() async throws {
        let owner = KeyPair.random()
        let value = Value.signed(by: owner, sequenceNumber: 3, data: Array("kept".utf8))
        try await DHTStorage(path: path).putValue(value, now: 0)
        try SQLiteDatabase(path: path).execute("PRAGMA user_version = 0")
        let storage = try DHTStorage(path: path)
        #expect(try SQLiteSchema.userVersion(SQLiteDatabase(path: path)) == 1)
        #expect(try storage.value(owner.publicKey, now: 1) == value)
    }

    @Test func aStoreFromANewerVersionIsRefused() throws {
        _ = try DHTStorage(path: path)
        try SQLiteDatabase(path: path).execute("PRAGMA user_version = 2")
        let error = #expect(throws: StorageError.self) { try DHTStorage(path: path) }
        #expect(error?.description.contains("a DHT store of schema version 2, newer than this Carrier's 1") == true, "\(String(describing: error))")
    }

    @Test func aFileOfAnotherLayoutIsRefused() throws {
        try SQLiteDatabase(path: path).execute("CREATE TABLE notes (text TEXT)")
        let error = #expect(throws: StorageError.self) { try DHTStorage(path: path) }
        #expect(error?.description.contains("not an unversioned DHT store") == true, "\(String(describing: error))")
        #expect(error?.description.contains("table notes") == true, "\(String(describing: error))")
    }
}
