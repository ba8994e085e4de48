import CarrierCore
import CarrierPluginSDK

// The SDK hands records over in its C-shaped types (`DHTValue`, `PeerRecord`); the proxy checks
// and prints them as Core's `Value` and `PeerInfo`.

extension Value {
    init(_ value: DHTValue) {
        self.init(publicKey: value.publicKey.flatMap { Id(bytes: $0) }, recipient: value.recipient.flatMap { Id(bytes: $0) },
                  nonce: value.nonce, sequenceNumber: value.sequenceNumber, signature: value.signature, data: value.data)
    }
}

extension DHTValue {
    init(_ value: Value) {
        self.init(publicKey: value.publicKey?.bytes, recipient: value.recipient?.bytes, nonce: value.nonce, signature: value.signature,
                  sequenceNumber: value.sequenceNumber, data: value.data)
    }
}

extension PeerInfo {
    init?(_ record: PeerRecord) {
        guard let peerId = Id(bytes: record.peerId) else { return nil }
        self.init(peerId: peerId, nodeId: record.nodeId.flatMap { Id(bytes: $0) }, nodeSignature: record.nodeSignature,
                  sequenceNumber: record.sequenceNumber, fingerprint: record.fingerprint, endpoint: record.endpoint,
                  extra: record.extra, signature: record.signature)
    }
}

extension PeerRecord {
    init(_ peer: PeerInfo) {
        self.init(peerId: peer.peerId.bytes, nodeId: peer.nodeId?.bytes, nodeSignature: peer.nodeSignature, sequenceNumber: peer.sequenceNumber,
                  fingerprint: peer.fingerprint, endpoint: peer.endpoint, extra: peer.extra, signature: peer.signature)
    }
}
