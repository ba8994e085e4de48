/// What a lookup asks to get back (`w`): IPv4 nodes, IPv6 nodes, a write token.
public struct LookupWant: OptionSet, Hashable, Sendable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// Closest IPv4 contacts (`n4`).
    public static let ipv4 = LookupWant(rawValue: 1)
    /// Closest IPv6 contacts (`n6`).
    public static let ipv6 = LookupWant(rawValue: 2)
    /// Only meaningful on FIND_NODE: ask for a token for a later STORE_VALUE or ANNOUNCE_PEER.
    public static let token = LookupWant(rawValue: 4)
}

/// The closest nodes a lookup response carries, per address family (`n4`, `n6`).
public struct NodeLists: Hashable, Sendable {
    /// `n4`: IPv4 contacts only.
    public var ipv4: [NodeInfo]
    /// `n6`: IPv6 contacts only.
    public var ipv6: [NodeInfo]

    public init(ipv4: [NodeInfo] = [], ipv6: [NodeInfo] = []) {
        self.ipv4 = ipv4
        self.ipv6 = ipv6
    }

    /// Whether neither family has a contact.
    public var isEmpty: Bool { ipv4.isEmpty && ipv6.isEmpty }
}

/// FIND_NODE request body: `t`, `w`.
public struct FindNodeRequest: Hashable, Sendable {
    /// `t`: the id whose closest nodes are wanted.
    public var target: Id
    /// `w`: which families, and whether a write token, are wanted.
    public var want: LookupWant

    public init(target: Id, want: LookupWant) {
        self.target = target
        self.want = want
    }
}

/// FIND_NODE response body: `n4`, `n6`, `tok`.
public struct FindNodeResponse: Hashable, Sendable {
    /// The responder's closest contacts to the target.
    public var nodes: NodeLists
    /// `tok`: a write token for the target (0 = none; may be negative, echo it exactly).
    public var token: Int32

    public init(nodes: NodeLists, token: Int32 = 0) {
        self.nodes = nodes
        self.token = token
    }
}

/// FIND_VALUE request body: `t`, `w`, `cas`.
public struct FindValueRequest: Hashable, Sendable {
    /// `t`: the value id.
    public var target: Id
    /// `w`: which families are wanted with the closer nodes.
    public var want: LookupWant
    /// `cas`: send a mutable value only if its seq ≥ cas; nil (never negative) sends any.
    public var cas: Int32?

    public init(target: Id, want: LookupWant, cas: Int32? = nil) {
        self.target = target
        self.want = want
        self.cas = cas
    }
}

/// FIND_VALUE response body: closer nodes, the value, or both.
public struct FindValueResponse: Hashable, Sendable {
    /// Closer contacts, when the responder has no (fresh enough) value.
    public var nodes: NodeLists
    /// The value, in `k, rec, n, seq, sig, v`.
    public var value: Value?

    public init(nodes: NodeLists = NodeLists(), value: Value? = nil) {
        self.nodes = nodes
        self.value = value
    }
}

/// FIND_PEER request body: `t`, `w`, `cas`, `e`.
public struct FindPeerRequest: Hashable, Sendable {
    /// `t`: the peer id.
    public var target: Id
    /// `w`: which families are wanted with the closer nodes.
    public var want: LookupWant
    /// `cas`: only records with seq ≥ cas; nil sends any.
    public var cas: Int32?
    /// `e`: how many records are wanted; 0 leaves it to the responder.
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
    /// Closer contacts.
    public var nodes: NodeLists
    /// `p`: the records the responder holds for the peer id.
    public var peers: [PeerInfo]

    public init(nodes: NodeLists = NodeLists(), peers: [PeerInfo] = []) {
        self.nodes = nodes
        self.peers = peers
    }
}
