/// STORE_VALUE request body: `tok`, `cas`, then the value's fields.
public struct StoreValueRequest: Hashable, Sendable {
    /// `tok`: the write token from a FIND_NODE for the value id.
    public var token: Int32
    /// `cas`: store only if the stored sequence number is ≤ cas.
    public var cas: Int32?
    /// The value, in `k, rec, n, seq, sig, v`.
    public var value: Value

    public init(token: Int32, cas: Int32? = nil, value: Value) {
        self.token = token
        self.cas = cas
        self.value = value
    }
}

/// ANNOUNCE_PEER request body: `tok`, `cas`, then the record's fields.
public struct AnnouncePeerRequest: Hashable, Sendable {
    /// `tok`: the write token from a FIND_NODE for the peer id.
    public var token: Int32
    /// `cas`: store only if the stored sequence number is ≤ cas.
    public var cas: Int32?
    /// The record, in `k, seq, o, os, sig, f, e, ex`.
    public var peer: PeerInfo

    public init(token: Int32, cas: Int32? = nil, peer: PeerInfo) {
        self.token = token
        self.cas = cas
        self.peer = peer
    }
}
