import CarrierCore
import Logging
import Synchronization

/// Settlement: gathers final receipts not yet settled into signed batches (one per currency, at
/// most `maxReceipts` each), offers each batch to the backend it was made for, and records what
/// the backend says (`billing_settlements`: pending, offered, paid or failed). A batch the backend
/// refused or failed is offered again at the next round; one it took and has not answered is
/// offered again only after `answerTimeout`; a paid one is done. Only the batch's backend can
/// report on it.
public final class SettlementDesk: Sendable {
    public let ledger: BillingLedger
    public let identity: KeyPair
    /// Receipts per batch (a batch must fit one runner message: about 500 bytes a receipt).
    public static let maxReceipts = 200
    /// How long a backend that took a batch has to answer before it is offered the batch again.
    public static let answerTimeout: Int64 = 86_400
    private let logger = Logger(label: "carrier.settlement")

    public init(ledger: BillingLedger, identity: KeyPair) {
        self.ledger = ledger
        self.identity = identity
    }

    /// One round: batches the final receipts not in a batch yet (for `backend`), then offers
    /// `backend` every batch of its own that is due. Returns the batches offered.
    @discardableResult
    public func settle(with backend: any SettlementBackend, now: Int64) async throws(StorageError) -> [SettlementBatch] {
        try makeBatches(now: now, backend: backend.name)
        let batches = try dueBatches(backend: backend.name, now: now)
        for batch in batches {
            guard await !backend.offer(batch, to: self) else { continue }
            logger.warning("settlement batch refused for now", metadata: ["batch": "\(batch.id)", "backend": "\(backend.name)"])
            try ledger.transaction { database throws(StorageError) in
                _ = try database.query("UPDATE billing_settlements SET status = 'pending', message = 'refused by the backend' WHERE batch = ? AND status = 'offered'",
                                   [.integer(Int64(bitPattern: batch.id))])
            }
        }
        return batches
    }

    /// `backend`'s outcome for a batch; false if the batch is unknown, not offered to `backend`, or
    /// already paid.
    public func record(batch: UInt64, paid: Bool, message: String, backend: String) -> Bool {
        do {
            return try ledger.transaction { database throws(StorageError) in
                try database.query("""
                    UPDATE billing_settlements SET status = ?, message = ?, attempts = attempts + 1
                    WHERE batch = ? AND backend = ? AND status != 'paid'
                    """, [.text(paid ? "paid" : "failed"), .text(message), .integer(Int64(bitPattern: batch)), .text(backend)])
                return try database.query("SELECT changes()").first?.integer(0) == 1
            }
        } catch {
            logger.error("settlement outcome not recorded", metadata: ["batch": "\(batch)", "error": "\(error)"])
            return false
        }
    }

    /// Each batch's status, message and receipt count (for operators and tests).
    public func batches() throws(StorageError) -> [(id: UInt64, status: String, message: String?, receipts: Int)] {
        try ledger.transaction(writes: false) { database throws(StorageError) in
            try database.query("""
                SELECT s.batch, s.status, s.message, (SELECT COUNT(*) FROM billing_receipts r WHERE r.batch = s.batch)
                FROM billing_settlements s ORDER BY s.batch
                """).map { row throws(StorageError) in
                (UInt64(bitPattern: try row.integer(0)), try row.text(1), try row.optionalText(2), Int(try row.integer(3)))
            }
        }
    }

    private func makeBatches(now: Int64, backend: String) throws(StorageError) {
        try ledger.transaction { database throws(StorageError) in
            while true {
                let rows = try database.query("""
                    SELECT client, seq, body FROM billing_receipts WHERE final = 1 AND batch IS NULL ORDER BY client, seq LIMIT ?
                    """, [.integer(Int64(Self.maxReceipts))])
                guard !rows.isEmpty else { return }
                var byCurrency: [String: [(client: [UInt8], seq: Int64)]] = [:]
                for row in rows {
                    guard let receipt = try? UsageReceipt(json: row.text(2)) else { continue }
                    byCurrency[receipt.currency, default: []].append((try row.blob(0), try row.integer(1)))
                }
                guard !byCurrency.isEmpty else { return }
                for (currency, members) in byCurrency {
                    try database.query("INSERT INTO billing_settlements (created, currency, status, attempts, backend) VALUES (?, ?, 'pending', 0, ?)",
                                       [.integer(now), .text(currency), .text(backend)])
                    let batch = try database.query("SELECT last_insert_rowid()").first?.integer(0) ?? 0
                    for member in members {
                        try database.query("UPDATE billing_receipts SET batch = ? WHERE client = ? AND seq = ?",
                                           [.integer(batch), .blob(member.client), .integer(member.seq)])
                    }
                }
            }
        }
    }

    /// The batches of `backend` to offer now (never taken, failed, or taken long ago and not
    /// answered), marked offered.
    private func dueBatches(backend: String, now: Int64) throws(StorageError) -> [SettlementBatch] {
        let issuer = identity
        return try ledger.transaction { database throws(StorageError) in
            let rows = try database.query("""
                SELECT batch, created, currency FROM billing_settlements WHERE backend = ?
                AND (status IN ('pending', 'failed') OR (status = 'offered' AND offered_at <= ?)) ORDER BY batch
                """, [.text(backend), .integer(now - Self.answerTimeout)])
            return try rows.map { row throws(StorageError) in
                try database.query("UPDATE billing_settlements SET status = 'offered', offered_at = ? WHERE batch = ?",
                                   [.integer(now), .integer(row.integer(0))])
                let receipts = try database.query("SELECT body FROM billing_receipts WHERE batch = ? ORDER BY client, seq", [.integer(row.integer(0))])
                    .compactMap { try? UsageReceipt(json: $0.text(0)) }
                return SettlementBatch(issuer: issuer, id: UInt64(bitPattern: try row.integer(0)), created: try row.integer(1), currency: try row.text(2),
                                       receipts: receipts)
            }
        }
    }
}
