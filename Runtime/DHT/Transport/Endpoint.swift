import CarrierCore
import NIOCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An IP address and UDP port.
public struct Endpoint: Hashable, Sendable, CustomStringConvertible {
    public let address: IPAddress
    public let port: UInt16

    public init(address: IPAddress, port: UInt16) {
        self.address = address
        self.port = port
    }

    /// Parses `HOST:PORT` or `[IPv6]:PORT` (a numeric address; names are not resolved).
    public init?(_ text: String) {
        let host: Substring, port: Substring
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { return nil }
            port = rest.dropFirst()
        } else {
            guard let colon = text.lastIndex(of: ":") else { return nil }
            host = text[..<colon]
            port = text[text.index(after: colon)...]
        }
        guard let address = IPAddress(String(host)), let number = UInt16(port) else { return nil }
        self.init(address: address, port: number)
    }

    /// From the socket address's bytes (no text round trip: this runs for every datagram).
    init?(_ socketAddress: SocketAddress) {
        let address: IPAddress?, port: UInt16
        switch socketAddress {
        case .v4(let v4):
            address = withUnsafeBytes(of: v4.address.sin_addr) { IPAddress(bytes: $0) }
            port = UInt16(bigEndian: v4.address.sin_port)
        case .v6(let v6):
            address = withUnsafeBytes(of: v6.address.sin6_addr) { IPAddress(bytes: $0) }
            port = UInt16(bigEndian: v6.address.sin6_port)
        case .unixDomainSocket:
            return nil
        }
        guard let address else { return nil }
        self.init(address: address, port: port)
    }

    /// To a socket address, from the bytes (no text round trip: this runs for every datagram sent).
    var socketAddress: SocketAddress {
        if address.isIPv4 {
            var v4 = sockaddr_in()
            v4.sin_family = sa_family_t(AF_INET)
            v4.sin_port = port.bigEndian
            withUnsafeMutableBytes(of: &v4.sin_addr) { target in address.withUnsafeBytes { target.copyMemory(from: $0) } }
            return SocketAddress(v4, host: "")
        }
        var v6 = sockaddr_in6()
        v6.sin6_family = sa_family_t(AF_INET6)
        v6.sin6_port = port.bigEndian
        withUnsafeMutableBytes(of: &v6.sin6_addr) { target in address.withUnsafeBytes { target.copyMemory(from: $0) } }
        return SocketAddress(v6, host: "")
    }

    public var family: AddressFamily { address.isIPv4 ? .ipv4 : .ipv6 }

    public var description: String { address.isIPv4 ? "\(address):\(port)" : "[\(address.compactText)]:\(port)" }
}
