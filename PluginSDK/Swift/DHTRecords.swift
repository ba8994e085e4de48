import CarrierPluginABI

/// A DHT contact as the host reports it.
public struct NodeContact: Sendable, Equatable {
    public let id: [UInt8]
    /// 4 (IPv4) or 16 (IPv6) bytes.
    public let address: [UInt8]
    public let port: UInt16

    init(_ c: carrier_node_info) {
        id = withUnsafeBytes(of: c.id.bytes) { Array($0) }
        address = withUnsafeBytes(of: c.address) { Array($0.prefix(Int(c.address_length))) }
        port = c.port
    }
}

/// The supernode's routing tables in counts, per address family: `good` contacts answered and
/// failed fewer than 3 requests in a row since, `dubious` ones never answered or are failing.
public struct DHTStatus: Sendable, Equatable {
    public var goodIPv4 = 0, dubiousIPv4 = 0, goodIPv6 = 0, dubiousIPv6 = 0

    /// Good contacts in both families: 0 means the node is cut off from the network.
    public var good: Int { goodIPv4 + goodIPv6 }

    public init() {}

    init(_ c: carrier_dht_status) {
        goodIPv4 = Int(c.good_ipv4)
        dubiousIPv4 = Int(c.dubious_ipv4)
        goodIPv6 = Int(c.good_ipv6)
        dubiousIPv6 = Int(c.dubious_ipv6)
    }
}

/// A DHT value (Boson v3.1): immutable (data only), signed (public key, seq, signature) or
/// encrypted (also recipient and nonce).
public struct DHTValue: Sendable, Equatable {
    public var publicKey: [UInt8]?
    public var recipient: [UInt8]?
    public var nonce: [UInt8]?
    public var signature: [UInt8]?
    public var sequenceNumber: Int32
    public var data: [UInt8]
    /// The value id (set in values the host hands out).
    public var id: [UInt8]

    public init(publicKey: [UInt8]? = nil, recipient: [UInt8]? = nil, nonce: [UInt8]? = nil, signature: [UInt8]? = nil,
                sequenceNumber: Int32 = 0, data: [UInt8]) {
        (self.publicKey, self.recipient, self.nonce, self.signature) = (publicKey, recipient, nonce, signature)
        self.sequenceNumber = sequenceNumber
        self.data = data
        id = []
    }

    init(_ c: carrier_value) {
        publicKey = c.public_key.map { key in withUnsafeBytes(of: key.pointee.bytes) { Array($0) } }
        recipient = c.recipient.map { key in withUnsafeBytes(of: key.pointee.bytes) { Array($0) } }
        nonce = c.nonce.map { Array(UnsafeBufferPointer(start: $0, count: 24)) }
        signature = c.signature.map { Array(UnsafeBufferPointer(start: $0, count: 64)) }
        sequenceNumber = c.sequence_number
        data = c.data.map { Array(UnsafeBufferPointer(start: $0, count: c.data_length)) } ?? []
        id = withUnsafeBytes(of: c.id.bytes) { Array($0) }
    }
}

/// A peer record (Boson v3.1).
public struct PeerRecord: Sendable, Equatable {
    public var peerId: [UInt8]
    public var nodeId: [UInt8]?
    public var nodeSignature: [UInt8]?
    public var sequenceNumber: Int32
    public var fingerprint: Int64
    public var endpoint: String
    public var extra: [UInt8]?
    public var signature: [UInt8]

    /// A record to announce, signed by its owner (and its hosting node, when there is one).
    public init(peerId: [UInt8], nodeId: [UInt8]? = nil, nodeSignature: [UInt8]? = nil, sequenceNumber: Int32 = 0, fingerprint: Int64 = 0,
                endpoint: String, extra: [UInt8]? = nil, signature: [UInt8]) {
        self.peerId = peerId
        self.nodeId = nodeId
        self.nodeSignature = nodeSignature
        self.sequenceNumber = sequenceNumber
        self.fingerprint = fingerprint
        self.endpoint = endpoint
        self.extra = extra
        self.signature = signature
    }

    init(_ c: carrier_peer) {
        peerId = withUnsafeBytes(of: c.peer_id.bytes) { Array($0) }
        nodeId = c.node_id.map { key in withUnsafeBytes(of: key.pointee.bytes) { Array($0) } }
        nodeSignature = c.node_signature.map { Array(UnsafeBufferPointer(start: $0, count: 64)) }
        sequenceNumber = c.sequence_number
        fingerprint = c.fingerprint
        endpoint = c.endpoint.map { String(cString: $0) } ?? ""
        extra = c.extra.map { Array(UnsafeBufferPointer(start: $0, count: c.extra_length)) }
        signature = c.signature.map { Array(UnsafeBufferPointer(start: $0, count: 64)) } ?? []
    }
}

/// A change in the supernode's DHT storage.
public enum DHTStorageEvent: Sendable, Equatable {
    case valueUpdated(DHTValue)
    case peerAnnounced(PeerRecord)
}

/// Memory for C structs handed to the host during one call, freed when the call returns.
struct CArena {
    private var allocations: [UnsafeMutableRawPointer] = []

    mutating func copy<T>(_ elements: [T]) -> UnsafePointer<T> {
        let buffer = UnsafeMutableBufferPointer<T>.allocate(capacity: max(elements.count, 1))
        _ = buffer.initialize(from: elements)
        allocations.append(UnsafeMutableRawPointer(buffer.baseAddress!))
        return UnsafePointer(buffer.baseAddress!)
    }

    mutating func id(_ bytes: [UInt8]) -> UnsafePointer<carrier_id> {
        var id = carrier_id()
        withUnsafeMutableBytes(of: &id.bytes) { $0.copyBytes(from: bytes.prefix(32)) }
        return copy([id])
    }

    func free() { for allocation in allocations { allocation.deallocate() } }
}
