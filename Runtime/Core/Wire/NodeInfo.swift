/// A DHT contact as the wire carries it: `[id, ip, port]`.
public struct NodeInfo: Hashable, Sendable, CustomStringConvertible {
    /// The node's id (its Ed25519 public key).
    public var id: Id
    /// Where it answers: IPv4 in `n4`, IPv6 in `n6`.
    public var address: IPAddress
    /// 1...65535 (port 0 is refused on decode).
    public var port: UInt16

    public init(id: Id, address: IPAddress, port: UInt16) {
        self.id = id
        self.address = address
        self.port = port
    }

    public var description: String {
        address.isIPv4 ? "\(id)@\(address):\(port)" : "\(id)@[\(address)]:\(port)"
    }
}
