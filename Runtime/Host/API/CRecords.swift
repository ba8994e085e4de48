import CarrierCore
import CarrierPluginABI

/// Conversions between the DHT's records and the C ABI's structs. C structs handed to a plugin
/// borrow Swift storage for the duration of one call (`withCValue`, `withCPeers`, ...); records
/// a plugin hands in are copied out at once.
enum CRecords {
    static func id(_ id: Id) -> carrier_id {
        var result = carrier_id()
        withUnsafeMutableBytes(of: &result.bytes) { $0.copyBytes(from: id.bytes) }
        return result
    }

    static func id(_ pointer: UnsafePointer<carrier_id>) -> Id {
        withUnsafeBytes(of: pointer.pointee.bytes) { Id(bytes: Array($0))! }
    }

    static func bytes(_ pointer: UnsafePointer<UInt8>?, count: Int) -> [UInt8]? {
        pointer.map { Array(UnsafeBufferPointer(start: $0, count: count)) }
    }

    static func nodeInfo(_ node: NodeInfo) -> carrier_node_info {
        var result = carrier_node_info()
        result.id = id(node.id)
        node.address.withUnsafeBytes { bytes in
            withUnsafeMutableBytes(of: &result.address) { $0.copyMemory(from: bytes) }
        }
        result.address_length = node.address.isIPv4 ? 4 : 16
        result.port = node.port
        return result
    }

    /// A value from a plugin's struct (copied), or nil if a buffer is missing.
    static func value(_ pointer: UnsafePointer<carrier_value>) -> Value? {
        let c = pointer.pointee
        guard c.data != nil || c.data_length == 0 else { return nil }
        return Value(publicKey: c.public_key.map(id), recipient: c.recipient.map(id), nonce: bytes(c.nonce, count: SharedKey.nonceByteCount),
                     sequenceNumber: c.sequence_number, signature: bytes(c.signature, count: 64),
                     data: bytes(c.data, count: c.data_length) ?? [])
    }

    /// A peer record from a plugin's struct (copied), or nil if a required buffer is missing.
    static func peer(_ pointer: UnsafePointer<carrier_peer>) -> PeerInfo? {
        let c = pointer.pointee
        guard let endpoint = c.endpoint, let signature = bytes(c.signature, count: 64) else { return nil }
        return PeerInfo(peerId: withUnsafeBytes(of: c.peer_id.bytes) { Id(bytes: Array($0))! }, nodeId: c.node_id.map(id),
                        nodeSignature: bytes(c.node_signature, count: 64), sequenceNumber: c.sequence_number, fingerprint: c.fingerprint,
                        endpoint: String(cString: endpoint), extra: bytes(c.extra, count: c.extra_length), signature: signature)
    }

    /// Calls `body` with a C view of `value`, valid only inside `body`.
    static func withCValue<R>(_ value: Value, _ body: (UnsafePointer<carrier_value>) -> R) -> R {
        var publicKey = value.publicKey.map(id), recipient = value.recipient.map(id)
        let nonce = value.nonce ?? [], signature = value.signature ?? [], data = value.data
        return withOptionalPointer(&publicKey) { publicKeyPointer in
            withOptionalPointer(&recipient) { recipientPointer in
                nonce.withUnsafeBufferPointer { nonceBuffer in
                    signature.withUnsafeBufferPointer { signatureBuffer in
                        data.withUnsafeBufferPointer { dataBuffer in
                            var c = carrier_value(public_key: publicKeyPointer, recipient: recipientPointer,
                                                  nonce: value.nonce == nil ? nil : nonceBuffer.baseAddress,
                                                  signature: value.signature == nil ? nil : signatureBuffer.baseAddress,
                                                  sequence_number: value.sequenceNumber, data: dataBuffer.baseAddress,
                                                  data_length: data.count, id: id(value.id))
                            return withUnsafePointer(to: &c) { body($0) }
                        }
                    }
                }
            }
        }
    }

    /// Calls `body` with C views of `peers`, valid only inside `body`: every buffer the records
    /// point to is copied into memory allocated here and freed after `body` returns (pointers into
    /// Swift arrays may not outlive the closure that lent them).
    static func withCPeers<R>(_ peers: [PeerInfo], _ body: (UnsafePointer<carrier_peer>?, Int) -> R) -> R {
        var allocations: [UnsafeMutableRawPointer] = []
        defer { for allocation in allocations { allocation.deallocate() } }
        func copy<T>(_ elements: [T]) -> UnsafePointer<T> {
            let buffer = UnsafeMutableBufferPointer<T>.allocate(capacity: max(elements.count, 1))
            _ = buffer.initialize(from: elements)
            allocations.append(UnsafeMutableRawPointer(buffer.baseAddress!))
            return UnsafePointer(buffer.baseAddress!)
        }
        let records = peers.map { peer in
            carrier_peer(peer_id: id(peer.peerId), node_id: peer.nodeId.map { copy([id($0)]) },
                         node_signature: peer.nodeSignature.map { copy($0) }, sequence_number: peer.sequenceNumber,
                         fingerprint: peer.fingerprint, endpoint: copy(Array(peer.endpoint.utf8CString)),
                         extra: peer.extra.map { copy($0) }, extra_length: peer.extra?.count ?? 0, signature: copy(peer.signature))
        }
        return records.withUnsafeBufferPointer { body($0.baseAddress, $0.count) }
    }

    /// The text of a NUL-terminated C string in `buffer` (all of it if there is no NUL).
    static func string(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private static func withOptionalPointer<T, R>(_ value: inout T?, _ body: (UnsafePointer<T>?) -> R) -> R {
        guard value != nil else { return body(nil) }
        return withUnsafePointer(to: &value!) { body($0) }
    }
}
