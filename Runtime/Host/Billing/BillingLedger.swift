import CarrierCore
import Foundation
import Synchronization

/// The billing ledger: one SQLite file (`<data_dir>/billing.sqlite`, WAL, `synchronous = FULL`).
///
/// - `usage`: units and charges per client, plugin, meter and period.
/// - `clients`: each client's plan and balance (micro-units), with a `revision` bumped by every
///   operator change, so a running host picks up what `carrier billing credit|plan` wrote.
/// - `journal`: append-only, every credit and charge; a client's balance is the sum of its rows.
/// - `receipts`: the signed usage receipts issued, chained per client by `seq`, and the
///   settlement batch each final one went into.
/// - `settlements`: the batches offered to the payment backend, and what it said.
///
/// Every method is one transaction; it returns once the transaction is durable.
public final class BillingLedger: Sendable {
    private let database: Mutex<SQLiteDatabase>
    public let path: String

    /// A client's row.
    public struct Client: Sendable, Equatable {
        public let id: Id
        public let plan: String?
        public let balance: Int64
    }

    /// One usage row.
    public struct Usage: Sendable, Equatable, Codable {
        public let client: String
        public let plugin: String
        public let meter: String
        public let periodStart: Int64
        public let periodSeconds: Int64
        public let units: Int64
        /// Micro-units charged for these units.
        public let charged: Int64
    }

    /// Totals over all clients, or one.
    public struct Totals: Sendable, Codable, Equatable {
        public struct Meter: Sendable, Codable, Equatable {
            public let plugin: String
            public let meter: String
            public let units: Int64
            public let charged: Int64
        }
        public let usage: [Meter]
        /// Micro-units credited by operators.
        public let credited: Int64
    }

    /// What one flush writes: usage increments and the charges they cost.
    struct Batch: Sendable {
        struct Key: Hashable, Sendable {
            let client: Id
            let plugin: String
            let meter: String
            let periodStart: Int64
            let periodSeconds: Int64
        }
        struct Delta: Sendable {
            var units: Int64 = 0
            var charge: Int64 = 0
            /// The unit price and currency of the latest report (receipts state them).
            var microPrice: Int64 = 0
            var currency = ""

            /// Adds one report (or a batch that did not commit) to this row's increment.
            mutating func add(units: Int64, charge: Int64, microPrice: Int64, currency: String) {
                self.units = Money.sum(self.units, units)
                self.charge = Money.sum(self.charge, charge)
                self.microPrice = microPrice
                self.currency = currency
            }
        }
        var usage: [Key: Delta] = [:]
    }

    /// Opens (creating when missing) the ledger at `path`, migrating an older layout
    /// (`LedgerSchema`); a ledger of a newer version or of an unknown layout is refused.
    public init(path: String) throws(StorageError) {
        let database = try SQLiteDatabase(path: path)
        try LedgerSchema.schema.open(database)
        self.database = Mutex(database)
        self.path = path
    }

    /// Where a data directory keeps its ledger.
    public static func path(dataDirectory: String) -> String { "\(dataDirectory)/billing.sqlite" }

    /// The ledger of a data directory.
    public static func open(dataDirectory: String) throws(StorageError) -> BillingLedger {
        try BillingLedger(path: path(dataDirectory: dataDirectory))
    }

    /// Runs `body` in one transaction (here, and for `ReceiptBook` and `SettlementDesk`). A reading
    /// one (`writes` false) begins DEFERRED, so another process reading the ledger
    /// (`carrier billing usage`) never holds up a flush.
    func transaction<T: Sendable>(writes: Bool = true, _ body: (SQLiteDatabase) throws(StorageError) -> T) throws(StorageError) -> T {
        let outcome = database.withLock { database -> Result<T, StorageError> in
            do throws(StorageError) {
                try database.execute(writes ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED")
            } catch {
                return .failure(error)
            }
            do throws(StorageError) {
                let result = try body(database)
                try database.execute("COMMIT")
                return .success(result)
            } catch {
                try? database.execute("ROLLBACK")
                return .failure(error)
            }
        }
        return try outcome.get()
    }

    private static func nextRevision(_ database: SQLiteDatabase) throws(StorageError) -> Int64 {
        try database.query("UPDATE billing_meta SET value = value + 1 WHERE key = 'revision'")
        return try Self.currentRevision(database)
    }

    private static func currentRevision(_ database: SQLiteDatabase) throws(StorageError) -> Int64 {
        try database.query("SELECT value FROM billing_meta WHERE key = 'revision'").first?.integer(0) ?? 0
    }

    /// A `Client` from a row of (client, plan, balance); a client column that is not an id is an error.
    private static func client(from row: SQLiteRow) throws(StorageError) -> Client {
        let bytes = try row.blob(0)
        guard let id = Id(bytes: bytes) else { throw StorageError("billing_clients holds a client of \(bytes.count) bytes, not an id") }
        return Client(id: id, plan: try row.optionalText(1), balance: try row.integer(2))
    }

    // MARK: Reads

    public func client(_ id: Id) throws(StorageError) -> Client? {
        try transaction(writes: false) { database throws(StorageError) in
            try database.query("SELECT plan, balance FROM billing_clients WHERE client = ?", [.blob(id.bytes)]).first.map { row throws(StorageError) in
                Client(id: id, plan: try row.optionalText(0), balance: try row.integer(1))
            }
        }
    }

    /// Units used so far in one period.
    func units(_ key: Batch.Key) throws(StorageError) -> Int64 {
        try transaction(writes: false) { database throws(StorageError) in
            try database.query("""
                SELECT units FROM billing_usage WHERE client = ? AND plugin = ? AND meter = ? AND period_start = ? AND period_seconds = ?
                """, [.blob(key.client.bytes), .text(key.plugin), .text(key.meter), .integer(key.periodStart), .integer(key.periodSeconds)])
                .first?.integer(0) ?? 0
        }
    }

    /// Usage rows, newest period first; of one client when given.
    public func usage(client: Id? = nil) throws(StorageError) -> [Usage] {
        try transaction(writes: false) { database throws(StorageError) in
            let filter = client == nil ? "" : "WHERE client = ?"
            return try database.query("""
                SELECT client, plugin, meter, period_start, period_seconds, units, charged FROM billing_usage \(filter)
                ORDER BY period_start DESC, client, plugin, meter
                """, client.map { [.blob($0.bytes)] } ?? []).map { row throws(StorageError) in
                let bytes = try row.blob(0)
                guard let id = Id(bytes: bytes) else { throw StorageError("billing_usage holds a client of \(bytes.count) bytes, not an id") }
                return Usage(client: id.base58, plugin: try row.text(1), meter: try row.text(2), periodStart: try row.integer(3),
                             periodSeconds: try row.integer(4), units: try row.integer(5), charged: try row.integer(6))
            }
        }
    }

    /// Every client with its plan and balance.
    public func clients() throws(StorageError) -> [Client] {
        try transaction(writes: false) { database throws(StorageError) in
            try database.query("SELECT client, plan, balance FROM billing_clients ORDER BY client").map { row throws(StorageError) in
                try Self.client(from: row)
            }
        }
    }

    /// The sum of a client's journal rows (its balance, if the ledger is consistent).
    public func journalSum(client: Id) throws(StorageError) -> Int64 {
        try transaction(writes: false) { database throws(StorageError) in
            try database.query("SELECT COALESCE(SUM(amount), 0) FROM billing_journal WHERE client = ?", [.blob(client.bytes)]).first?.integer(0) ?? 0
        }
    }

    /// Totals over all clients (or one `client`): units and charges per plugin and meter, and
    /// credits granted.
    public func totals(client: Id? = nil) throws(StorageError) -> Totals {
        try transaction(writes: false) { database throws(StorageError) in
            let filter = client == nil ? "" : "WHERE client = ?", arguments: [SQLiteValue] = client.map { [.blob($0.bytes)] } ?? []
            let usage = try database.query("""
                SELECT plugin, meter, SUM(units), SUM(charged) FROM billing_usage \(filter) GROUP BY plugin, meter ORDER BY plugin, meter
                """, arguments).map { row throws(StorageError) in
                    Totals.Meter(plugin: try row.text(0), meter: try row.text(1), units: try row.integer(2), charged: try row.integer(3))
                }
            let credited = try database.query("""
                SELECT COALESCE(SUM(amount), 0) FROM billing_journal WHERE kind = 'credit' \(client == nil ? "" : "AND client = ?")
                """, arguments).first?.integer(0) ?? 0
            return Totals(usage: usage, credited: credited)
        }
    }

    // MARK: Operator changes

    /// Adds `amount` micro-units (negative to take back) to a client's balance; returns the new balance.
    @discardableResult
    public func credit(_ client: Id, amount: Int64, note: String, at time: Int64) throws(StorageError) -> Int64 {
        try transaction { database throws(StorageError) in
            let revision = try Self.nextRevision(database)
            try database.query("""
                INSERT INTO billing_clients (client, plan, balance, revision) VALUES (?, NULL, ?, ?)
                ON CONFLICT(client) DO UPDATE SET balance = balance + excluded.balance, revision = excluded.revision
                """, [.blob(client.bytes), .integer(amount), .integer(revision)])
            try database.query("INSERT INTO billing_journal (at, client, kind, units, amount, note) VALUES (?, ?, 'credit', 0, ?, ?)",
                               [.integer(time), .blob(client.bytes), .integer(amount), .text(note)])
            return try database.query("SELECT balance FROM billing_clients WHERE client = ?", [.blob(client.bytes)]).first?.integer(0) ?? 0
        }
    }

    /// Puts a client on `plan` (nil: back to each plugin's default plan).
    public func setPlan(_ client: Id, plan: String?, at time: Int64) throws(StorageError) {
        try transaction { database throws(StorageError) in
            let revision = try Self.nextRevision(database)
            try database.query("""
                INSERT INTO billing_clients (client, plan, balance, revision) VALUES (?, ?, 0, ?)
                ON CONFLICT(client) DO UPDATE SET plan = excluded.plan, revision = excluded.revision
                """, [.blob(client.bytes), plan.map { .text($0) } ?? .null, .integer(revision)])
            try database.query("INSERT INTO billing_journal (at, client, kind, units, amount, note) VALUES (?, ?, 'plan', 0, 0, ?)",
                               [.integer(time), .blob(client.bytes), .text(plan ?? "(default)")])
        }
    }

    // MARK: Flushes

    /// Writes a batch of usage and its charges in one transaction, then reads the clients an
    /// operator changed since `revision`. Returns them with the newest revision.
    /// `committedThrough`: every use reported before this time is in this batch or an earlier one
    /// (final receipts wait for it).
    func commit(_ batch: Batch, at time: Int64, committedThrough: Int64,
                changedSince revision: Int64) throws(StorageError) -> (changed: [Client], revision: Int64) {
        try transaction { database throws(StorageError) in
            try database.query("""
                INSERT INTO billing_meta (key, value) VALUES ('committed_through', ?)
                ON CONFLICT(key) DO UPDATE SET value = MAX(value, excluded.value)
                """, [.integer(committedThrough)])
            var charges: [Id: Int64] = [:]
            for (key, delta) in batch.usage {
                try database.query("""
                    INSERT INTO billing_usage (client, plugin, meter, period_start, period_seconds, units, charged, price, currency)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT(client, plugin, meter, period_start, period_seconds) DO UPDATE SET units = units + excluded.units,
                        charged = charged + excluded.charged, price = excluded.price, currency = excluded.currency
                    """, [.blob(key.client.bytes), .text(key.plugin), .text(key.meter), .integer(key.periodStart), .integer(key.periodSeconds),
                          .integer(delta.units), .integer(delta.charge), .integer(delta.microPrice), .text(delta.currency)])
                guard delta.charge > 0 else { continue }
                charges[key.client] = Money.sum(charges[key.client] ?? 0, delta.charge)
                try database.query("""
                    INSERT INTO billing_journal (at, client, kind, plugin, meter, units, amount, note) VALUES (?, ?, 'charge', ?, ?, ?, ?, NULL)
                    """, [.integer(time), .blob(key.client.bytes), .text(key.plugin), .text(key.meter), .integer(delta.units), .integer(-delta.charge)])
            }
            for (client, charge) in charges {
                // A charge is not an operator change: the revision stays, the host knows it already.
                try database.query("""
                    INSERT INTO billing_clients (client, plan, balance, revision) VALUES (?, NULL, ?, 0)
                    ON CONFLICT(client) DO UPDATE SET balance = balance + excluded.balance
                    """, [.blob(client.bytes), .integer(-charge)])
            }
            let newest = try Self.currentRevision(database)
            let changed = newest == revision ? [] : try database.query(
                "SELECT client, plan, balance FROM billing_clients WHERE revision > ?", [.integer(revision)]).map { row throws(StorageError) in
                try Self.client(from: row)
            }
            return (changed, newest)
        }
    }

    /// The revision counter now (a host starts reading operator changes from here).
    func revision() throws(StorageError) -> Int64 {
        try transaction(writes: false) { database throws(StorageError) in
            try Self.currentRevision(database)
        }
    }
}
