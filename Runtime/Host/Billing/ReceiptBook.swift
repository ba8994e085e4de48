import CarrierCore

/// Issues and keeps the signed usage receipts of a ledger: at each period's end (the host checks
/// every minute) and on demand (`carrier billing receipts --issue`). A period counts as ended for
/// a final receipt once the ledger has committed everything reported up to its end (the
/// `committed_through` time each flush records), so no use can land after its final receipt. Each receipt is written in the
/// same transaction that picks its sequence number, so two issuers (the host and the CLI) cannot
/// both take one.
public struct ReceiptBook: Sendable {
    public let ledger: BillingLedger
    public let identity: KeyPair
    public init(ledger: BillingLedger, identity: KeyPair) {
        self.ledger = ledger
        self.identity = identity
    }

    /// Issues a receipt for every usage row (of `client`, when given) that needs one: a final one
    /// for each ended period that has none yet, and, with `openPeriods`, one for each running
    /// period whose use changed since its last receipt. Returns the receipts issued.
    @discardableResult
    public func issue(client: Id? = nil, openPeriods: Bool, now: Int64) throws(StorageError) -> [UsageReceipt] {
        let issuer = identity
        return try ledger.transaction { database throws(StorageError) in
            let through = try database.query("SELECT value FROM billing_meta WHERE key = 'committed_through'").first?.integer(0) ?? 0
            // Only the rows that need a receipt: no final one yet, and either ended, or (on demand)
            // changed since their last receipt.
            let rows = try database.query("""
                SELECT client, plugin, meter, period_start, period_seconds, units, charged, price, currency FROM billing_usage u
                WHERE (?1 IS NULL OR client = ?1)
                AND (period_start + period_seconds <= ?2 OR ?3)
                AND NOT EXISTS (SELECT 1 FROM billing_receipts r
                    WHERE r.client = u.client AND r.plugin = u.plugin AND r.meter = u.meter AND r.period_start = u.period_start
                    AND r.period_seconds = u.period_seconds
                    AND (r.final = 1 OR (u.period_start + u.period_seconds > ?2 AND r.units = u.units AND r.charged = u.charged)))
                ORDER BY client, period_start, plugin, meter
                """, [client.map { .blob($0.bytes) } ?? .null, .integer(through), .integer(openPeriods ? 1 : 0)])
            var issued: [UsageReceipt] = []
            for row in rows {
                let clientBytes = try row.blob(0)
                guard let clientId = Id(bytes: clientBytes) else {
                    throw StorageError("\(ledger.path): billing_usage holds a client of \(clientBytes.count) bytes, not an id")
                }
                let plugin = try row.text(1), meter = try row.text(2), periodStart = try row.integer(3), periodSeconds = try row.integer(4)
                let periodEnd = periodStart + periodSeconds
                let units = try row.integer(5), charged = try row.integer(6)
                let ended = periodEnd <= through
                let previous = try database.query("SELECT seq, body FROM billing_receipts WHERE client = ? ORDER BY seq DESC LIMIT 1",
                                                  [.blob(clientId.bytes)]).first
                let previousDigest = try previous.map { row throws(StorageError) -> [UInt8] in
                    let body = try row.text(1)
                    do { return try UsageReceipt(json: body).digest } catch {
                        throw StorageError("\(ledger.path): receipt \(try row.integer(0)) of \(clientId.base58) is unreadable: \(error)")
                    }
                } ?? [UInt8](repeating: 0, count: 32)
                var receipt = UsageReceipt(issuer: issuer.publicKey, client: clientId, service: plugin, meter: meter, units: units,
                                           microPrice: try row.integer(7), charge: charged, currency: try row.text(8), periodStart: periodStart,
                                           periodEnd: periodEnd, isFinal: ended, sequence: (try previous?.integer(0) ?? 0) + 1,
                                           previous: previousDigest, issuedAt: now)
                receipt.sign(with: issuer)
                try database.query("""
                    INSERT INTO billing_receipts (client, seq, plugin, meter, period_start, period_seconds, units, charged, final, body)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """, [.blob(clientId.bytes), .integer(receipt.sequence), .text(plugin), .text(meter), .integer(periodStart),
                          .integer(periodSeconds), .integer(units), .integer(charged), .integer(ended ? 1 : 0), .text(receipt.json)])
                issued.append(receipt)
            }
            return issued
        }
    }

    /// The receipts issued (to `client`, when given), each as its JSON line, in chain order.
    public func receipts(client: Id? = nil) throws(StorageError) -> [String] {
        try ledger.transaction(writes: false) { database throws(StorageError) in
            let filter = client == nil ? "" : "WHERE client = ?"
            return try database.query("SELECT body FROM billing_receipts \(filter) ORDER BY client, seq", client.map { [.blob($0.bytes)] } ?? [])
                .map { row throws(StorageError) in try row.text(0) }
        }
    }
}
