import CarrierCore

/// Final usage receipts handed to a payment backend together, signed by the node: what the
/// backend is asked to collect. One currency per batch. JSON form (one line):
/// `{"v":1,"issuer":B58,"batch":N,"created":T,"currency":C,"total":"1.5","receipts":[...],"sig":HEX}`,
/// the receipts in their own JSON form. The signature covers "carrier/settlement/v1" and a CBOR
/// array `[issuer, batch, created, currency, total (micro-units), [receipt digests]]`.
public struct SettlementBatch: Sendable, Equatable {
    public let issuer: Id
    public let id: UInt64
    public let created: Int64
    public let currency: String
    public let receipts: [UsageReceipt]
    public private(set) var signature: [UInt8] = []

    /// The sum of the receipts' charges, in micro-units.
    public var total: Int64 { receipts.reduce(0) { Money.sum($0, $1.charge) } }

    public init(issuer: KeyPair, id: UInt64, created: Int64, currency: String, receipts: [UsageReceipt]) {
        self.issuer = issuer.publicKey
        self.id = id
        self.created = created
        self.currency = currency
        self.receipts = receipts
        signature = issuer.sign(signedBytes)
    }

    var signedBytes: [UInt8] {
        var writer = CBORWriter()
        writer.item(.array([.bytes(issuer.bytes), .unsigned(id), .unsigned(UInt64(max(created, 0))), .text(currency),
                            .unsigned(UInt64(max(total, 0))), .array(receipts.map { .bytes($0.digest) })]))
        return Array("carrier/settlement/v1".utf8) + writer.bytes
    }

    /// Whether the node's signature and every receipt verify, each receipt issued by the same node.
    public var isValid: Bool {
        KeyPair.verify(signature: signature, of: signedBytes, by: issuer) && receipts.allSatisfy { $0.isValid && $0.issuer == issuer }
    }

    public var json: String {
        var currencyText: [UInt8] = []
        JSONText.appendQuoted(currency, to: &currencyText)
        return "{\"v\":1,\"issuer\":\"\(issuer.base58)\",\"batch\":\(id),\"created\":\(created),\"currency\":"
            + String(decoding: currencyText, as: UTF8.self) + ",\"total\":\"\(Money.text(total))\",\"receipts\":["
            + receipts.map(\.json).joined(separator: ",") + "],\"sig\":\"\(Hex.encode(signature))\"}"
    }
}

/// Where settlement batches go: the built-in prepaid-credit backend, or a plugin with the
/// settlement capability. `offer` says whether the backend took the batch; it reports the outcome
/// (`SettlementDesk.record`) now or later.
public protocol SettlementBackend: Sendable {
    /// For the ledger and logs: "prepaid" or the plugin's id.
    var name: String { get }
    func offer(_ batch: SettlementBatch, to desk: SettlementDesk) async -> Bool
}

/// The built-in backend. With prepaid credit, a client pays when it uses a service: each charge
/// was taken from its balance (and written in the journal) as the use was reported. Settling a
/// batch checks that the node signed it and every receipt, and records it paid.
public struct PrepaidCreditBackend: SettlementBackend {
    public let name = "prepaid"
    public init() {}

    public func offer(_ batch: SettlementBatch, to desk: SettlementDesk) async -> Bool {
        let valid = batch.isValid
        _ = desk.record(batch: batch.id, paid: valid,
                        message: valid ? "charged to prepaid credit when used" : "the batch or a receipt in it does not verify", backend: name)
        return true
    }
}
