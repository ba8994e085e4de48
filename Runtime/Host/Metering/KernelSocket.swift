/// A connected TCP socket as the kernel names it: its cookie (`SO_COOKIE`, unique while the system
/// runs) and its two ends. A plugin hands the host one (ABI 1.6 `count_tcp_socket`) so that the
/// host bills the socket's bytes from the kernel's own count.
public struct KernelSocket: Sendable, Hashable, CustomStringConvertible {
    /// The address family, as the ABI writes it (4 or 6).
    public enum Family: UInt8, Sendable, Hashable {
        case ipv4 = 4
        case ipv6 = 6

        /// Bytes in an address of this family.
        public var addressLength: Int { self == .ipv4 ? 4 : 16 }
    }

    /// One end: an address of the socket's family (network byte order) and a port.
    public struct End: Sendable, Hashable {
        public let address: [UInt8]
        public let port: UInt16

        public init(address: [UInt8], port: UInt16) {
            self.address = address
            self.port = port
        }
    }

    public let cookie: UInt64
    public let family: Family
    public let local: End
    public let remote: End

    /// Nil when an address is not of `family`'s length.
    public init?(cookie: UInt64, family: Family, local: End, remote: End) {
        guard local.address.count == family.addressLength, remote.address.count == family.addressLength else { return nil }
        self.cookie = cookie
        self.family = family
        self.local = local
        self.remote = remote
    }

    public var description: String { "tcp socket \(cookie) \(Self.text(local, family)) - \(Self.text(remote, family))" }

    private static func text(_ end: End, _ family: Family) -> String {
        switch family {
        case .ipv4: return end.address.map(String.init).joined(separator: ".") + ":\(end.port)"
        case .ipv6:
            let groups = stride(from: 0, to: 16, by: 2).map { String(UInt16(end.address[$0]) << 8 | UInt16(end.address[$0 + 1]), radix: 16) }
            return "[\(groups.joined(separator: ":"))]:\(end.port)"
        }
    }
}
