import CarrierCore
@testable import CarrierHost
import Foundation
import Testing

/// The billing ledger's schema versions: a ledger written before versioning is migrated with
/// nothing lost; one from a newer version, of an unknown layout, or holding a wrongly typed value
/// is refused and left as it was.
struct LedgerSchemaTests {
    let path = NSTemporaryDirectory() + "carrier-ledger-\(UUID().uuidString).sqlite"
    let alice = KeyPair.random().publicKey
    let bob = KeyPair.random().publicKey

    /// The ledger's layout before it carried a version, as Carrier wrote it then.
    private static let unversionedLayout = """
        CREATE TABLE billing_usage (
            client BLOB NOT NULL, plugin TEXT NOT NULL, meter TEXT NOT NULL, period_start INTEGER NOT NULL,
            period_seconds INTEGER NOT NULL, units INTEGER NOT NULL, charged INTEGER NOT NULL,
            price INTEGER NOT NULL, currency TEXT NOT NULL,
            PRIMARY KEY (client, plugin, meter, period_start, period_seconds));
        CREATE TABLE billing_clients (client BLOB PRIMARY KEY, plan TEXT, balance INTEGER NOT NULL, revision INTEGER NOT NULL);
        CREATE INDEX billing_clients_revision ON billing_clients(revision);
        CREATE TABLE billing_journal (
            id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, client BLOB NOT NULL, kind TEXT NOT NULL,
            plugin TEXT, meter TEXT, units INTEGER NOT NULL, amount INTEGER NOT NULL, note TEXT);
        CREATE TRIGGER billing_journal_append_only_update BEFORE UPDATE ON billing_journal
            BEGIN SELECT RAISE(ABORT, 'the billing journal is append-only'); END;
        CREATE TRIGGER billing_journal_append_only_delete BEFORE DELETE ON billing_journal
            BEGIN SELECT RAISE(ABORT, 'the billing journal is append-only'); END;
        CREATE TABLE billing_receipts (
            client BLOB NOT NULL, seq INTEGER NOT NULL, plugin TEXT NOT NULL, meter TEXT NOT NULL,
            period_start INTEGER NOT NULL, period_seconds INTEGER NOT NULL, units INTEGER NOT NULL, charged INTEGER NOT NULL,
            final INTEGER NOT NULL, body TEXT NOT NULL, batch INTEGER, PRIMARY KEY (client, seq));
        CREATE TABLE billing_settlements (
            batch INTEGER PRIMARY KEY AUTOINCREMENT, created INTEGER NOT NULL, currency TEXT NOT NULL, status TEXT NOT NULL,
            attempts INTEGER NOT NULL, backend TEXT NOT NULL, message TEXT, offered_at INTEGER);
        CREATE INDEX billing_receipts_usage ON billing_receipts(client, plugin, meter, period_start, period_seconds);
        CREATE TABLE billing_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
        INSERT INTO billing_meta (key, value) VALUES ('revision', 2), ('committed_through', 7200);
        """

    /// An unversioned ledger with two clients, their usage, journal, a receipt and a settlement.
    private func writeUnversionedLedger(aliceBalance: SQLiteValue = .integer(8_500_000)) throws {
        let database = try SQLiteDatabase(path: path)
        try database.execute(Self.unversionedLayout)
        try database.query("INSERT INTO billing_clients VALUES (?, 'pro', ?, 1), (?, NULL, -250, 2)",
                           [.blob(alice.bytes), aliceBalance, .blob(bob.bytes)])
        try database.query("""
            INSERT INTO billing_journal (at, client, kind, plugin, meter, units, amount, note) VALUES
            (10, ?1, 'credit', NULL, NULL, 0, 10000000, 'invoice 7'), (20, ?1, 'charge', 'kv', 'writes', 3000, -1500000, NULL),
            (30, ?2, 'charge', 'kv', 'reads', 500, -250, NULL)
            """, [.blob(alice.bytes), .blob(bob.bytes)])
        try database.query("""
            INSERT INTO billing_usage VALUES (?1, 'kv', 'writes', 0, 3600, 3000, 1500000, 500, 'USD'),
            (?2, 'kv', 'reads', 3600, 3600, 500, 250, 1, 'USD')
            """, [.blob(alice.bytes), .blob(bob.bytes)])
        try database.query("INSERT INTO billing_settlements VALUES (1, 3700, 'USD', 'paid', 1, 'bank', 'ok', 3701)")
        try database.query("INSERT INTO billing_receipts VALUES (?, 1, 'kv', 'writes', 0, 3600, 3000, 1500000, 1, '{\"receipt\":1}', 1)",
                           [.blob(alice.bytes)])
    }

    @Test func anUnversionedLedgerIsMigratedWithNothingLost() throws {
        try writeUnversionedLedger()
        let ledger = try BillingLedger(path: path)
        #expect(try SQLiteSchema.userVersion(SQLiteDatabase(path: path)) == 2)
        #expect(try ledger.clients().sorted { $0.balance < $1.balance }
                == [BillingLedger.Client(id: bob, plan: nil, balance: -250), BillingLedger.Client(id: alice, plan: "pro", balance: 8_500_000)])
        #expect(try ledger.journalSum(client: alice) == 8_500_000)
        #expect(try ledger.journalSum(client: bob) == -250)
        #expect(try ledger.usage().map { "\($0.client) \($0.meter) \($0.periodStart) \($0.units) \($0.charged)" }
                == ["\(bob.base58) reads 3600 500 250", "\(alice.base58) writes 0 3000 1500000"])
        #expect(try ledger.totals().credited == 10_000_000)
        #expect(try ledger.revision() == 2)
        #expect(try ReceiptBook(ledger: ledger, identity: .random()).receipts(client: alice) == ["{\"receipt\":1}"])
        let batches = try SettlementDesk(ledger: ledger, identity: .random()).batches()
        #expect(batches.map { "\($0.id) \($0.status) \($0.message ?? "-") \($0.receipts)" } == ["1 paid ok 1"])

        #expect(try ledger.credit(bob, amount: 1000, note: "after the migration", at: 40) == 750)
        let database = try SQLiteDatabase(path: path)
        #expect(try database.query("SELECT max(id) FROM billing_journal").first?.integer(0) == 4, "the journal's ids continue")
        #expect(throws: StorageError.self, "the journal is still append-only") { try database.execute("DELETE FROM billing_journal") }
        #expect(throws: StorageError.self, "the tables are STRICT now") {
            try database.query("UPDATE billing_clients SET balance = 'lots' WHERE client = ?", [.blob(alice.bytes)])
        }
        _ = try BillingLedger(path: path)
        #expect(try ledger.journalSum(client: bob) == 750, "a migrated ledger opens again as it is")
    }

    @Test func aLedgerFromANewerVersionIsRefused() throws {
        _ = try BillingLedger(path: path)
        try SQLiteDatabase(path: path).execute("PRAGMA user_version = 3")
        let error = #expect(throws: StorageError.self) { try BillingLedger(path: path) }
        #expect(error?.description.contains("schema version 3, newer than this Carrier's 2") == true, "\(String(describing: error))")
        #expect(try SQLiteSchema.userVersion(SQLiteDatabase(path: path)) == 3)
    }

    @Test func aFileOfAnotherLayoutIsRefusedAndLeftAsItWas() throws {
        try writeUnversionedLedger()
        let database = try SQLiteDatabase(path: path)
        try database.execute("ALTER TABLE billing_clients ADD COLUMN credit_limit INTEGER")
        let error = #expect(throws: StorageError.self) { try BillingLedger(path: path) }
        #expect(error?.description.contains("not an unversioned billing ledger") == true, "\(String(describing: error))")
        #expect(error?.description.contains("unexpected: column billing_clients.credit_limit INTEGER") == true)
        #expect(try SQLiteSchema.userVersion(database) == 0)
        #expect(try database.query("SELECT balance FROM billing_clients WHERE client = ?", [.blob(alice.bytes)]).first?.integer(0) == 8_500_000)
    }

    @Test func aLedgerHoldingAWronglyTypedValueIsNotMigrated() throws {
        try writeUnversionedLedger(aliceBalance: .text("8.5 USD"))
        let error = #expect(throws: StorageError.self) { try BillingLedger(path: path) }
        #expect(error?.description.contains("billing_clients.balance") == true, "\(String(describing: error))")
        let database = try SQLiteDatabase(path: path)
        #expect(try SQLiteSchema.userVersion(database) == 0, "rolled back")
        #expect(try database.query("SELECT balance FROM billing_clients WHERE client = ?", [.blob(alice.bytes)]).first?.text(0) == "8.5 USD")
    }

    @Test func aNewLedgerIsCreatedAtTheCurrentVersion() throws {
        let ledger = try BillingLedger(path: path)
        #expect(try SQLiteSchema.userVersion(SQLiteDatabase(path: path)) == 2)
        #expect(try ledger.revision() == 0)
        #expect(try ledger.credit(alice, amount: 5, note: "", at: 0) == 5)
    }
}
