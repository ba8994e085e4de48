import CarrierCore

/// The billing ledger's layout and its versions (`PRAGMA user_version`, see `SQLiteSchema`).
///
/// - Version 1: the ledger as written before it carried a version.
/// - Version 2: the same tables, STRICT: SQLite refuses a value of the wrong type on write (a
///   version 1 ledger holding one cannot migrate, and is refused with SQLite's error).
enum LedgerSchema {
    static let schema = SQLiteSchema(name: "billing ledger", version: 2, layout: tables(strict: true) + indexes + meta,
                                     unversioned: tables(strict: false) + indexes + meta, migrations: [1: strictTables])

    private static let names = ["billing_usage", "billing_clients", "billing_journal", "billing_receipts", "billing_settlements", "billing_meta"]

    /// 1 → 2: each table is renamed, created again STRICT, copied (same columns, same order: the
    /// version 1 layout was checked), and the old one dropped with its indexes and triggers, which
    /// are then created again. Nothing was ever deleted from the AUTOINCREMENT tables, so their
    /// counters continue from the copied rows' greatest id.
    private static var strictTables: String {
        names.map { "ALTER TABLE \($0) RENAME TO \($0)_v1;\n" }.joined()
            + tables(strict: true)
            + names.map { "INSERT INTO \($0) SELECT * FROM \($0)_v1;\nDROP TABLE \($0)_v1;\n" }.joined()
            + indexes
    }

    private static func tables(strict: Bool) -> String {
        let options = strict ? " STRICT" : ""
        return """
            CREATE TABLE billing_usage (
                client BLOB NOT NULL, plugin TEXT NOT NULL, meter TEXT NOT NULL, period_start INTEGER NOT NULL,
                period_seconds INTEGER NOT NULL, units INTEGER NOT NULL, charged INTEGER NOT NULL,
                price INTEGER NOT NULL, currency TEXT NOT NULL,
                PRIMARY KEY (client, plugin, meter, period_start, period_seconds))\(options);
            CREATE TABLE billing_clients (
                client BLOB PRIMARY KEY, plan TEXT, balance INTEGER NOT NULL, revision INTEGER NOT NULL)\(options);
            CREATE TABLE billing_journal (
                id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, client BLOB NOT NULL, kind TEXT NOT NULL,
                plugin TEXT, meter TEXT, units INTEGER NOT NULL, amount INTEGER NOT NULL, note TEXT)\(options);
            CREATE TABLE billing_receipts (
                client BLOB NOT NULL, seq INTEGER NOT NULL, plugin TEXT NOT NULL, meter TEXT NOT NULL,
                period_start INTEGER NOT NULL, period_seconds INTEGER NOT NULL, units INTEGER NOT NULL, charged INTEGER NOT NULL,
                final INTEGER NOT NULL, body TEXT NOT NULL, batch INTEGER, PRIMARY KEY (client, seq))\(options);
            CREATE TABLE billing_settlements (
                batch INTEGER PRIMARY KEY AUTOINCREMENT, created INTEGER NOT NULL, currency TEXT NOT NULL, status TEXT NOT NULL,
                attempts INTEGER NOT NULL, backend TEXT NOT NULL, message TEXT, offered_at INTEGER)\(options);
            CREATE TABLE billing_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)\(options);

            """
    }

    private static let indexes = """
        CREATE INDEX billing_clients_revision ON billing_clients(revision);
        CREATE INDEX billing_receipts_usage ON billing_receipts(client, plugin, meter, period_start, period_seconds);
        CREATE TRIGGER billing_journal_append_only_update BEFORE UPDATE ON billing_journal
            BEGIN SELECT RAISE(ABORT, 'the billing journal is append-only'); END;
        CREATE TRIGGER billing_journal_append_only_delete BEFORE DELETE ON billing_journal
            BEGIN SELECT RAISE(ABORT, 'the billing journal is append-only'); END;

        """

    private static let meta = "INSERT OR IGNORE INTO billing_meta (key, value) VALUES ('revision', 0);\n"
}
