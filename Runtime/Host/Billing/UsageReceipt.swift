import CarrierCore

/// A signed statement of what one client used of one meter of one service in one period, and what
/// it was charged. Receipts of a client chain by `sequence`: each names the digest of the one
/// before (`previous`; 32 zero bytes for sequence 1), so a missing or altered receipt is
/// detectable. A receipt issued after its period ended is `final`; one issued on demand during
/// the period states the use so far, and a later receipt for the same period supersedes it.
///
/// The signature is the issuing node's Ed25519 signature over `signedBytes`: the text
/// "carrier/receipt/v1" followed by a CBOR array of the fields in the order below. Receipts travel
/// as one line of JSON (`json`), money as exact decimal strings.
public struct UsageReceipt: Sendable, Equatable {
    public var issuer: Id
    public var client: Id
    /// The plugin id of the service.
    public var service: String
    public var meter: String
    public var units: Int64
    /// Price per unit beyond the free ones, in micro-units.
    public var microPrice: Int64
    /// What the units cost, in micro-units.
    public var charge: Int64
    public var currency: String
    public var periodStart: Int64
    public var periodEnd: Int64
    public var isFinal: Bool
    public var sequence: Int64
    public var previous: [UInt8]
    public var issuedAt: Int64
    public var signature: [UInt8] = []

    static let domain = Array("carrier/receipt/v1".utf8)

    /// What the issuer signs.
    public var signedBytes: [UInt8] {
        var writer = CBORWriter()
        writer.item(.array([.bytes(issuer.bytes), .bytes(client.bytes), .text(service), .text(meter), Self.integer(units),
                            Self.integer(microPrice), Self.integer(charge), .text(currency), Self.integer(periodStart), Self.integer(periodEnd),
                            .unsigned(isFinal ? 1 : 0), Self.integer(sequence), .bytes(previous), Self.integer(issuedAt)]))
        return Self.domain + writer.bytes
    }

    private static func integer(_ value: Int64) -> CBOR { value >= 0 ? .unsigned(UInt64(value)) : .negative(UInt64(-1 - value)) }

    /// What the next receipt of the chain names as `previous`: SHA-256 of the signed bytes and the signature.
    public var digest: [UInt8] { Sodium.sha256(signedBytes, signature) }

    /// Signs the receipt as `issuer` (whose public key must be `self.issuer`).
    public mutating func sign(with identity: KeyPair) {
        precondition(identity.publicKey == issuer, "a receipt is signed by its issuer")
        signature = identity.sign(signedBytes)
    }

    /// Whether the signature is the issuer's over these exact fields.
    public var isValid: Bool {
        signature.count == 64 && previous.count == 32 && KeyPair.verify(signature: signature, of: signedBytes, by: issuer)
    }

    // MARK: JSON

    /// One line of JSON, keys in a fixed order.
    public var json: String {
        func string(_ text: String) -> String {
            var output: [UInt8] = []
            JSONText.appendQuoted(text, to: &output)
            return String(decoding: output, as: UTF8.self)
        }
        return "{\"v\":1,\"issuer\":\"\(issuer.base58)\",\"client\":\"\(client.base58)\",\"service\":\(string(service)),"
            + "\"meter\":\(string(meter)),\"units\":\(units),\"price\":\"\(Money.text(microPrice))\",\"charge\":\"\(Money.text(charge))\","
            + "\"currency\":\(string(currency)),\"period_start\":\(periodStart),\"period_end\":\(periodEnd),\"final\":\(isFinal),"
            + "\"seq\":\(sequence),\"prev\":\"\(Hex.encode(previous))\",\"issued\":\(issuedAt),\"sig\":\"\(Hex.encode(signature))\"}"
    }

    /// Reads the JSON form strictly: every field present with its type, nothing else.
    public init(json text: String) throws(ReceiptError) {
        let value: JSONValue
        do { value = try JSONParser.parse(text) } catch { throw ReceiptError(description: "not JSON: \(error)") }
        guard case .object(let entries) = value else { throw ReceiptError(description: "a receipt is a JSON object, not a \(value.typeName)") }
        var fields = Dictionary(entries.map { ($0.key, $0.value) }, uniquingKeysWith: { first, _ in first })
        func take(_ key: String) throws(ReceiptError) -> JSONValue {
            guard let value = fields.removeValue(forKey: key) else { throw ReceiptError(description: "missing \"\(key)\"") }
            return value
        }
        func string(_ key: String) throws(ReceiptError) -> String {
            guard case .string(let text) = try take(key) else { throw ReceiptError(description: "\"\(key)\" must be a string") }
            return text
        }
        func integer(_ key: String) throws(ReceiptError) -> Int64 {
            guard case .integer(let number) = try take(key) else { throw ReceiptError(description: "\"\(key)\" must be an integer") }
            return number
        }
        func id(_ key: String) throws(ReceiptError) -> Id {
            guard let id = Id(base58: try string(key)) else { throw ReceiptError(description: "\"\(key)\" must be a Base58 node id") }
            return id
        }
        func money(_ key: String) throws(ReceiptError) -> Int64 {
            guard let amount = Money.parse(try string(key)) else { throw ReceiptError(description: "\"\(key)\" must be a decimal amount") }
            return amount
        }
        func hex(_ key: String, count: Int) throws(ReceiptError) -> [UInt8] {
            guard let bytes = Hex.decode(try string(key)), bytes.count == count else {
                throw ReceiptError(description: "\"\(key)\" must be \(count) bytes in hex")
            }
            return bytes
        }
        guard try integer("v") == 1 else { throw ReceiptError(description: "\"v\" must be 1 (this version reads receipts of version 1)") }
        issuer = try id("issuer")
        client = try id("client")
        service = try string("service")
        meter = try string("meter")
        units = try integer("units")
        microPrice = try money("price")
        charge = try money("charge")
        currency = try string("currency")
        periodStart = try integer("period_start")
        periodEnd = try integer("period_end")
        guard case .bool(let final) = try take("final") else { throw ReceiptError(description: "\"final\" must be true or false") }
        isFinal = final
        sequence = try integer("seq")
        previous = try hex("prev", count: 32)
        issuedAt = try integer("issued")
        signature = try hex("sig", count: 64)
        if let extra = fields.keys.sorted().first { throw ReceiptError(description: "unknown field \"\(extra)\"") }
    }

    public init(issuer: Id, client: Id, service: String, meter: String, units: Int64, microPrice: Int64, charge: Int64, currency: String,
                periodStart: Int64, periodEnd: Int64, isFinal: Bool, sequence: Int64, previous: [UInt8], issuedAt: Int64) {
        self.issuer = issuer
        self.client = client
        self.service = service
        self.meter = meter
        self.units = units
        self.microPrice = microPrice
        self.charge = charge
        self.currency = currency
        self.periodStart = periodStart
        self.periodEnd = periodEnd
        self.isFinal = isFinal
        self.sequence = sequence
        self.previous = previous
        self.issuedAt = issuedAt
    }
}

/// Checks a set of receipts offline: every signature, and each client's chain.
public enum ReceiptChain {
    /// The problems found, in order (empty when every receipt verifies and no chain has a gap).
    public static func problems(in receipts: [UsageReceipt]) -> [String] {
        var problems: [String] = []
        for receipt in receipts where !receipt.isValid {
            problems.append("seq \(receipt.sequence) of client \(receipt.client.base58): the signature does not verify (altered, or not issued by \(receipt.issuer.base58))")
        }
        let chains = Dictionary(grouping: receipts.filter(\.isValid)) { [$0.issuer.bytes, $0.client.bytes] }
        for chain in chains.values.map({ $0.sorted { $0.sequence < $1.sequence } }).sorted(by: { $0[0].client < $1[0].client }) {
            let client = chain[0].client.base58
            if chain[0].sequence == 1, chain[0].previous != [UInt8](repeating: 0, count: 32) {
                problems.append("seq 1 of client \(client): the first receipt must have an all-zero prev")
            } else if chain[0].sequence > 1 {
                let missing = chain[0].sequence == 2 ? "seq 1 is" : "seq 1 to \(chain[0].sequence - 1) are"
                problems.append("client \(client): \(missing) missing (the chain starts at \(chain[0].sequence))")
            }
            for (before, after) in zip(chain, chain.dropFirst()) {
                if after.sequence == before.sequence {
                    problems.append("seq \(after.sequence) of client \(client) appears twice")
                } else if after.sequence != before.sequence + 1 {
                    let missing = before.sequence + 1 == after.sequence - 1 ? "seq \(before.sequence + 1) is" : "seq \(before.sequence + 1) to \(after.sequence - 1) are"
                    problems.append("client \(client): \(missing) missing (between \(before.sequence) and \(after.sequence))")
                } else if after.previous != before.digest {
                    problems.append("seq \(after.sequence) of client \(client) does not chain to seq \(before.sequence) (its prev differs)")
                }
            }
        }
        return problems
    }
}

/// Why a receipt's text cannot be read.
public struct ReceiptError: Error, CustomStringConvertible {
    public let description: String
}
