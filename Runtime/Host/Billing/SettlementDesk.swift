import CarrierCore
import Logging
import Synchronization

/// Settlement: gathers final receipts not yet settled into signed batches (one per currency, at
/// most `maxReceipts` each), offers each batch to the backend, and records what the backend says
/// (`billing_settlements`: pending, paid or failed). A batch the backend refuses or fails is
/// offered again at the next round; a paid one is done.
public final class SettlementDesk: Sendable {
    public let ledger: BillingLedger
    public let identity: KeyPair
    public static let maxReceipts = 500
    private let logger = Logger(label: "carrier.settlement")

    public init(ledger: BillingLedger, identity: KeyPair) {
        self.ledger = ledger
        self.identity = identity
    }

    /// One round: batches the final receipts not in a batch yet, then offers every batch not paid
    /// to `backend`. Returns the batches offered.
    @discardableResult
    public func settle(with backend: any SettlementBackend, now: Int64) async throws(StorageError) -> [SettlementBatch] {
        try makeBatches(now: now, backend: backend.name)
        let batches = try unpaidBatches()
        for batch in batches {
            let taken = await backend.offer(batch, to: self)
            if !taken { logger.warning("settlement batch refused for now", metadata: ["batch": "\(batch.id)", "backend": "\(backend.name)"]) }
        }
        return batches
    }

    /// The backend's outcome for a batch; false if the batch is unknown or already reported paid.
    public func record(batch: UInt64, paid: Bool, message: String) -> Bool {
        do {
            return try ledger.withTransaction { database throws(StorageError) in
                try database.query("""
                    UPDATE billing_settlements SET status = ?, message = ?, attempts = attempts + 1 WHERE batch = ? AND status != 'paid'
                    """, [.text(paid ? "paid" : "failed"), .text(message), .integer(Int64(bitPattern: batch))])
                return try database.query("SELECT changes()").first?.integer(0) == 1
            }
        } catch {
            logger.error("settlement outcome not recorded", metadata: ["batch": "\(batch)", "error": "\(error)"])
            return false
        }
    }

    /// Each batch's status, message and receipt count (for operators and tests).
    public func batches() throws(StorageError) -> [(id: UInt64, status: String, message: String?, receipts: Int)] {
        try ledger.withTransaction { database throws(StorageError) in
            try database.query("""
                SELECT s.batch, s.status, s.message, (SELECT COUNT(*) FROM billing_receipts r WHERE r.batch = s.batch)
                FROM billing_settlements s ORDER BY s.batch
                """).map { (UInt64(bitPattern: $0.integer(0)), $0.text(1), $0.isNull(2) ? nil : $0.text(2), Int($0.integer(3))) }
        }
    }

    private func makeBatches(now: Int64, backend: String) throws(StorageError) {
        try ledger.withTransaction { database throws(StorageError) in
            while true {
                let rows = try database.query("""
                    SELECT client, seq, body FROM billing_receipts WHERE final = 1 AND batch IS NULL ORDER BY client, seq LIMIT ?
                    """, [.integer(Int64(Self.maxReceipts))])
                guard !rows.isEmpty else { return }
                var byCurrency: [String: [(client: [UInt8], seq: Int64)]] = [:]
                for row in rows {
                    guard let receipt = try? UsageReceipt(json: row.text(2)) else { continue }
                    byCurrency[receipt.currency, default: []].append((row.blob(0) ?? [], row.integer(1)))
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

    private func unpaidBatches() throws(StorageError) -> [SettlementBatch] {
        let issuer = identity
        return try ledger.withTransaction { database throws(StorageError) in
            try database.query("SELECT batch, created, currency FROM billing_settlements WHERE status != 'paid' ORDER BY batch").map { row throws(StorageError) in
                let receipts = try database.query("SELECT body FROM billing_receipts WHERE batch = ? ORDER BY client, seq", [.integer(row.integer(0))])
                    .compactMap { try? UsageReceipt(json: $0.text(0)) }
                return SettlementBatch(issuer: issuer, id: UInt64(bitPattern: row.integer(0)), created: row.integer(1), currency: row.text(2),
                                       receipts: receipts)
            }
        }
    }
}
