/// STORE_VALUE request body: a write token, an optional `cas`, and the value.
public struct StoreValueRequest: Hashable, Sendable {
    public var token: Int32
    /// Store only if the stored sequence number is ≤ cas.
    public var cas: Int32?
    public var value: Value
    public init(token: Int32, cas: Int32? = nil, value: Value) {
        self.token = token
        self.cas = cas
        self.value = value
    }
}

/// ANNOUNCE_PEER request body: a write token, an optional `cas`, and the peer record.
public struct AnnouncePeerRequest: Hashable, Sendable {
    public var token: Int32
    public var cas: Int32?
    public var peer: PeerInfo
    public init(token: Int32, cas: Int32? = nil, peer: PeerInfo) {
        self.token = token
        self.cas = cas
        self.peer = peer
    }
}
