import CarrierCore

/// The unit a node's address is accounted to for limits: one IPv4 address, or one IPv6 /64 (an
/// IPv4-mapped IPv6 address counts as its IPv4 address). Rate limits, the routing table's
/// diversity bound and the wire rule "at most 8 nodes per source unit in a response" all count by it.
public enum SourceUnit: Hashable, Sendable {
    case ipv4(UInt32)
    case ipv6(prefix: UInt64)

    public init(_ address: IPAddress) {
        self = address.embeddedIPv4.map { .ipv4($0) } ?? .ipv6(prefix: address.ipv6Prefix)
    }
}

extension IPAddress {
    /// Whether the address is routable on the public internet: not unspecified, loopback, private
    /// (RFC 1918, fc00::/7), link-local, CGNAT (100.64/10), multicast, documentation or reserved.
    /// Non-global addresses are accepted only where the operator allows local networks.
    public var isGlobalUnicast: Bool {
        if let v4 = embeddedIPv4 { return Self.isGlobalIPv4(UInt8(v4 >> 24), UInt8(truncatingIfNeeded: v4 >> 16), UInt8(truncatingIfNeeded: v4 >> 8)) }
        // Global unicast is 2000::/3, minus documentation (2001:db8::/32).
        guard ipv6Prefix >> 61 == 0b001 else { return false }
        return ipv6Prefix >> 32 != 0x2001_0DB8
    }

    private static func isGlobalIPv4(_ a: UInt8, _ b: UInt8, _ c: UInt8) -> Bool {
        switch a {
        case 0, 10, 127: return false
        case 100 where b & 0xC0 == 64: return false            // 100.64.0.0/10
        case 169 where b == 254: return false                  // link-local
        case 172 where b & 0xF0 == 16: return false            // 172.16.0.0/12
        case 192 where b == 168: return false                  // 192.168.0.0/16
        case 192 where b == 0 && (c == 0 || c == 2): return false   // 192.0.0/24, TEST-NET-1
        case 198 where b & 0xFE == 18: return false            // 198.18.0.0/15 benchmarking
        case 198 where b == 51 && c == 100: return false       // TEST-NET-2
        case 203 where b == 0 && c == 113: return false        // TEST-NET-3
        case 224...255: return false                           // multicast, reserved, broadcast
        default: return true
        }
    }
}
