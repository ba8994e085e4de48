import Foundation

/// A signed announcement that a peer (a service, identified by its owner key) is reachable at an
/// endpoint, optionally vouched for by the node hosting it (`o`/`os`). BOSON-WIRE.md §5.
public struct PeerInfo: Hashable, Sendable {
    /// Largest |UTF-8(endpoint)| + |extra| the protocol allows.
    public static let maxPayloadSize = 768

    /// The peer id: the owner's public key (`k` in ANNOUNCE_PEER, `id` in a FIND_PEER result).
    public var peerId: Id
    /// The hosting node (`o`), if it vouches for the record.
    public var nodeId: Id?
    /// The hosting node's signature (`os`), present exactly when `nodeId` is.
    public var nodeSignature: [UInt8]?
    /// Sequence number (`seq`), incremented on each update.
    public var sequenceNumber: Int32
    /// Random 64-bit fingerprint (`f`) chosen once per record and kept across updates.
    public var fingerprint: Int64
    /// Endpoint URI (`e`).
    public var endpoint: String
    /// Opaque extra data (`ex`), by convention a small CBOR map. Empty data is carried as nil: the
    /// wire omits it, and it adds nothing to the signed payload either way.
    public var extra: [UInt8]?
    /// The owner's signature (`sig`).
    public var signature: [UInt8]

    /// A record exactly as decoded from the wire; no checks beyond the fields' types.
    public init(peerId: Id, nodeId: Id?, nodeSignature: [UInt8]?, sequenceNumber: Int32, fingerprint: Int64,
                endpoint: String, extra: [UInt8]?, signature: [UInt8]) {
        self.peerId = peerId
        self.nodeId = nodeId
        self.nodeSignature = nodeSignature
        self.sequenceNumber = sequenceNumber
        self.fingerprint = fingerprint
        self.endpoint = endpoint
        self.extra = extra
        self.signature = signature
    }

    /// A new record signed by `owner` and, when given, vouched for by the hosting `node`.
    public static func create(owner: KeyPair, node: KeyPair? = nil, fingerprint: Int64 = Int64(bitPattern: Sodium.randomUInt64()),
                              sequenceNumber: Int32 = 0, endpoint: String, extra: [UInt8]? = nil) -> PeerInfo {
        var peer = PeerInfo(peerId: owner.publicKey, nodeId: node?.publicKey, nodeSignature: nil, sequenceNumber: sequenceNumber,
                            fingerprint: fingerprint, endpoint: endpoint, extra: extra?.isEmpty == true ? nil : extra, signature: [])
        if let node { peer.nodeSignature = node.sign(peer.nodeSignedDigest) }
        peer.signature = owner.sign(peer.ownerSignedDigest)
        return peer
    }

    /// SHA-256( k ‖ o ‖ BE64(f) ‖ BE32(seq) ): what the hosting node signs.
    public var nodeSignedDigest: [UInt8] {
        Sodium.sha256(peerId.bytes, nodeId?.bytes ?? [], BigEndian.bytes(fingerprint), BigEndian.bytes(sequenceNumber))
    }

    /// SHA-256( k ‖ BE32(seq) ‖ [o ‖ os] ‖ BE64(f) ‖ UTF-8(NFC(e)) ‖ [ex] ): what the owner signs.
    public var ownerSignedDigest: [UInt8] {
        var parts: [[UInt8]] = [peerId.bytes, BigEndian.bytes(sequenceNumber)]
        if let nodeId { parts += [nodeId.bytes, nodeSignature ?? []] }
        parts += [BigEndian.bytes(fingerprint), Array(endpoint.precomposedStringWithCanonicalMapping.utf8)]
        if let extra { parts.append(extra) }
        return Sodium.sha256(parts: parts)
    }

    /// Checks every rule a storing node checks; throws `invalidPeer` (402) naming the broken rule.
    public func validate() throws(ProtocolError) {
        func invalid(_ reason: String) -> ProtocolError { ProtocolError(.invalidPeer, reason) }
        guard !endpoint.isEmpty else { throw invalid("empty endpoint") }
        let payload = endpoint.utf8.count + (extra?.count ?? 0)
        guard payload <= PeerInfo.maxPayloadSize else { throw invalid("endpoint and extra data of \(payload) bytes exceed \(PeerInfo.maxPayloadSize)") }
        guard sequenceNumber >= 0 else { throw invalid("negative sequence number") }
        guard (nodeId == nil) == (nodeSignature == nil) else { throw invalid("o and os must come together") }
        if let nodeId {
            guard let nodeSignature, KeyPair.verify(signature: nodeSignature, of: nodeSignedDigest, by: nodeId) else {
                throw invalid("node signature (os) does not verify")
            }
        }
        guard KeyPair.verify(signature: signature, of: ownerSignedDigest, by: peerId) else {
            throw invalid("owner signature (sig) does not verify")
        }
    }

    /// Whether `validate()` passes.
    public var isValid: Bool {
        do { try validate(); return true } catch { return false }
    }
}
