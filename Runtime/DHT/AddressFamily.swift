/// IPv4 or IPv6: each has its own DHT instance, routing table and datagram size limit.
public enum AddressFamily: Sendable, Hashable {
    case ipv4, ipv6

    /// Largest datagram we send, envelope included (BOSON-WIRE.md §2).
    public var maxOutboundDatagramSize: Int { self == .ipv4 ? 1400 : 1200 }

    /// Largest datagram we accept: the send limit plus 512, as the reference does.
    public var maxInboundDatagramSize: Int { maxOutboundDatagramSize + 512 }
}
