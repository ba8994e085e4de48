/// A DHT value: immutable (id = SHA-256 of the data), signed mutable (id = owner key) or encrypted
/// for one recipient (id = owner key). BOSON-WIRE.md §4 gives every rule implemented here.
public struct Value: Hashable, Sendable {
    /// Largest data of an immutable value.
    public static let maxImmutableDataSize = 1024
    /// Largest data of a signed mutable value.
    public static let maxMutableDataSize = 896
    /// Largest ciphertext of an encrypted value (plaintext ≤ 816 bytes).
    public static let maxEncryptedDataSize = 832

    /// The owner's public key (`k`); nil for an immutable value.
    public var publicKey: Id?
    /// The recipient (`rec`) of an encrypted value.
    public var recipient: Id?
    /// The 24-byte crypto_box nonce (`n`) of an encrypted value.
    public var nonce: [UInt8]?
    /// Sequence number (`seq`); only meaningful for mutable values.
    public var sequenceNumber: Int32
    /// The owner's Ed25519 signature (`sig`).
    public var signature: [UInt8]?
    /// The data (`v`); the ciphertext (MAC ‖ ciphertext) for an encrypted value.
    public var data: [UInt8]

    /// The kinds of value the protocol has.
    public enum Kind: Sendable { case immutable, signed, encrypted }

    /// A value exactly as decoded from the wire; no checks beyond the fields' types.
    public init(publicKey: Id?, recipient: Id?, nonce: [UInt8]?, sequenceNumber: Int32, signature: [UInt8]?, data: [UInt8]) {
        self.publicKey = publicKey
        self.recipient = recipient
        self.nonce = nonce
        self.sequenceNumber = sequenceNumber
        self.signature = signature
        self.data = data
    }

    /// An immutable value holding `data`.
    public static func immutable(_ data: [UInt8]) -> Value {
        Value(publicKey: nil, recipient: nil, nonce: nil, sequenceNumber: 0, signature: nil, data: data)
    }

    /// A mutable value signed by `owner`.
    public static func signed(by owner: KeyPair, sequenceNumber: Int32, data: [UInt8]) -> Value {
        var value = Value(publicKey: owner.publicKey, recipient: nil, nonce: nil, sequenceNumber: sequenceNumber, signature: nil, data: data)
        value.signature = owner.sign(value.signedDigest)
        return value
    }

    /// A mutable value whose data is `plaintext` encrypted by `owner` for `recipient`, under a fresh nonce.
    public static func encrypted(by owner: KeyPair, for recipient: Id, sequenceNumber: Int32, plaintext: [UInt8]) throws(KeyError) -> Value {
        let nonce = Sodium.randomBytes(SharedKey.nonceByteCount)
        let ciphertext = try SharedKey(between: owner, and: recipient).seal(plaintext, nonce: nonce)
        var value = Value(publicKey: owner.publicKey, recipient: recipient, nonce: nonce, sequenceNumber: sequenceNumber, signature: nil, data: ciphertext)
        value.signature = owner.sign(value.signedDigest)
        return value
    }

    /// Which kind of value this is.
    public var kind: Kind {
        if publicKey == nil { return .immutable }
        return recipient == nil ? .signed : .encrypted
    }

    /// The value id: SHA-256(data) for an immutable value, the owner key otherwise (not combined with `rec`).
    public var id: Id {
        publicKey ?? Id(bytes: Sodium.sha256(data))!
    }

    /// SHA-256( k ‖ [rec ‖ n, when encrypted] ‖ BE32(seq) ‖ v ): what the owner signs.
    public var signedDigest: [UInt8] {
        var parts: [[UInt8]] = [publicKey?.bytes ?? []]
        if let recipient, let nonce { parts += [recipient.bytes, nonce] }
        parts += [BigEndian.bytes(sequenceNumber), data]
        return Sodium.sha256(parts: parts)
    }

    /// Checks every rule a storing node checks; throws `invalidValue` (401) naming the broken rule.
    public func validate() throws(ProtocolError) {
        func invalid(_ reason: String) -> ProtocolError { ProtocolError(.invalidValue, reason) }
        guard !data.isEmpty else { throw invalid("empty data") }
        guard let publicKey else {
            guard recipient == nil, nonce == nil, signature == nil else {
                throw invalid("an immutable value must not carry rec, n or sig")
            }
            guard sequenceNumber == 0 else { throw invalid("an immutable value must not carry seq") }
            guard data.count <= Value.maxImmutableDataSize else { throw invalid("data of \(data.count) bytes exceeds \(Value.maxImmutableDataSize)") }
            return
        }
        guard sequenceNumber >= 0 else { throw invalid("negative sequence number") }
        guard (recipient == nil) == (nonce == nil) else { throw invalid("rec and n must come together") }
        if let nonce, nonce.count != SharedKey.nonceByteCount { throw invalid("nonce must be 24 bytes") }
        let limit = recipient == nil ? Value.maxMutableDataSize : Value.maxEncryptedDataSize
        guard data.count <= limit else { throw invalid("data of \(data.count) bytes exceeds \(limit)") }
        guard let signature, KeyPair.verify(signature: signature, of: signedDigest, by: publicKey) else {
            throw invalid("signature does not verify")
        }
    }

    /// Whether `validate()` passes.
    public var isValid: Bool {
        do { try validate(); return true } catch { return false }
    }

    /// The plaintext of an encrypted value, for its recipient; nil if this is not an encrypted value
    /// addressed to `recipient` or the ciphertext does not authenticate.
    public func decrypt(with recipient: KeyPair) -> [UInt8]? {
        guard kind == .encrypted, self.recipient == recipient.publicKey, let publicKey, let nonce,
              nonce.count == SharedKey.nonceByteCount, let key = try? SharedKey(between: recipient, and: publicKey) else { return nil }
        return key.open(data, nonce: nonce)
    }
}
