/// What a lookup asks to get back (`w`): IPv4 nodes, IPv6 nodes, a write token.
public struct LookupWant: OptionSet, Hashable, Sendable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let ipv4 = LookupWant(rawValue: 1)
    public static let ipv6 = LookupWant(rawValue: 2)
    /// Only meaningful on FIND_NODE: ask for a token for a later STORE_VALUE or ANNOUNCE_PEER.
    public static let token = LookupWant(rawValue: 4)
}

/// The closest nodes a lookup response carries, per address family (`n4`, `n6`).
public struct NodeLists: Hashable, Sendable {
    public var ipv4: [NodeInfo]
    public var ipv6: [NodeInfo]

    public init(ipv4: [NodeInfo] = [], ipv6: [NodeInfo] = []) {
        self.ipv4 = ipv4
        self.ipv6 = ipv6
    }

    public var isEmpty: Bool { ipv4.isEmpty && ipv6.isEmpty }
}

/// FIND_NODE request body: `t`, `w`.
public struct FindNodeRequest: Hashable, Sendable {
    public var target: Id
    public var want: LookupWant
    public init(target: Id, want: LookupWant) {
        self.target = target
        self.want = want
    }
}

/// FIND_NODE response body: `n4`, `n6`, `tok` (0 = none).
public struct FindNodeResponse: Hashable, Sendable {
    public var nodes: NodeLists
    public var token: Int32
    public init(nodes: NodeLists, token: Int32 = 0) {
        self.nodes = nodes
        self.token = token
    }
}

/// FIND_VALUE request body: `t`, `w`, `cas` (send the value only if its seq ≥ cas).
public struct FindValueRequest: Hashable, Sendable {
    public var target: Id
    public var want: LookupWant
    public var cas: Int32?
    public init(target: Id, want: LookupWant, cas: Int32? = nil) {
        self.target = target
        self.want = want
        self.cas = cas
    }
}

/// FIND_VALUE response body: closer nodes, the value, or both.
public struct FindValueResponse: Hashable, Sendable {
    public var nodes: NodeLists
    public var value: Value?
    public init(nodes: NodeLists = NodeLists(), value: Value? = nil) {
        self.nodes = nodes
        self.value = value
    }
}

/// FIND_PEER request body: `t`, `w`, `cas`, `e` (wanted count; 0 = the responder's default).
public struct FindPeerRequest: Hashable, Sendable {
    public var target: Id
    public var want: LookupWant
    public var cas: Int32?
    public var expectedCount: Int32
    public init(target: Id, want: LookupWant, cas: Int32? = nil, expectedCount: Int32 = 0) {
        self.target = target
        self.want = want
        self.cas = cas
        self.expectedCount = expectedCount
    }
}

/// FIND_PEER response body: closer nodes and/or peer records (`p`).
public struct FindPeerResponse: Hashable, Sendable {
    public var nodes: NodeLists
    public var peers: [PeerInfo]
    public init(nodes: NodeLists = NodeLists(), peers: [PeerInfo] = []) {
        self.nodes = nodes
        self.peers = peers
    }
}
