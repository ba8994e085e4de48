import NIOCore

/// A range of source addresses in CIDR notation: `203.0.113.0/24`, `2001:db8::/32`, or one
/// address (`198.51.100.7`, a /32 or /128). A mapping's allowlist and denylist, and the
/// operator's `denySources`, are lists of these (docs/shadow.md, "Limits").
///
/// IPv4-mapped IPv6 addresses (`::ffff:203.0.113.9`, how a dual-stack listener sees IPv4 peers)
/// are IPv4 addresses here, as sources and in ranges (`::ffff:203.0.113.0/120` is
/// `203.0.113.0/24`): an IPv4 range matches them, and an IPv6 range such as `::/0` does not.
///
/// ```swift
/// let office = try SourceRange("203.0.113.0/24")
/// office.contains(try SocketAddress(ipAddress: "203.0.113.9", port: 0))  // true
/// ```
public struct SourceRange: Sendable, Hashable, CustomStringConvertible {
    /// The network's address bytes (4 or 16), with the bits past `prefix` cleared.
    public let network: [UInt8]
    /// How many leading bits a source must share with `network`.
    public let prefix: Int

    /// The most ranges one list (an allowlist, a denylist) may hold.
    public static let maxPerList = 16

    /// A range that does not parse.
    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    /// Parses `text`: an IPv4 or IPv6 address, optionally with `/prefix`.
    public init(_ text: String) throws(Invalid) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), let address = Self.addressBytes(String(parts[0])) else {
            throw Invalid(description: "\"\(text)\" is not an address range such as 203.0.113.0/24 or 2001:db8::/32")
        }
        let bits = address.count * 8
        var prefix = bits
        if parts.count == 2 {
            guard let parsed = Int(parts[1]), (0...bits).contains(parsed), parts[1].utf8.allSatisfy({ (0x30...0x39).contains($0) }) else {
                throw Invalid(description: "\"\(text)\": the prefix length must be 0 to \(bits)")
            }
            prefix = parsed
        }
        if let v4 = Self.unmapped(address), prefix >= 96 {
            self.prefix = prefix - 96
            network = Self.masked(v4, prefix: prefix - 96)
        } else {
            self.prefix = prefix
            network = Self.masked(address, prefix: prefix)
        }
    }

    public var description: String {
        let address = network.count == 4
            ? network.map(String.init).joined(separator: ".")
            : ((try? SocketAddress(packedIPAddress: ByteBuffer(bytes: network), port: 0))?.ipAddress ?? "?")
        return prefix == network.count * 8 ? address : "\(address)/\(prefix)"
    }

    /// Whether `address` (an IP socket address) lies in this range.
    public func contains(_ address: SocketAddress) -> Bool {
        guard var bytes = Self.bytes(of: address) else { return false }
        if let v4 = Self.unmapped(bytes) { bytes = v4 }
        guard bytes.count == network.count else { return false }
        return Self.masked(bytes, prefix: prefix) == network
    }

    private static let mappedPrefix: [UInt8] = Array(repeating: 0, count: 10) + [0xff, 0xff]

    /// The IPv4 address inside an IPv4-mapped IPv6 one; nil for any other.
    private static func unmapped(_ bytes: [UInt8]) -> [UInt8]? {
        bytes.count == 16 && bytes.prefix(12).elementsEqual(mappedPrefix) ? Array(bytes.suffix(4)) : nil
    }

    private static func addressBytes(_ text: String) -> [UInt8]? {
        guard !text.isEmpty, let address = try? SocketAddress(ipAddress: text, port: 0) else { return nil }
        return bytes(of: address)
    }

    private static func bytes(of address: SocketAddress) -> [UInt8]? {
        switch address {
        case .v4(let v4): withUnsafeBytes(of: v4.address.sin_addr) { Array($0) }
        case .v6(let v6): withUnsafeBytes(of: v6.address.sin6_addr) { Array($0) }
        case .unixDomainSocket: nil
        }
    }

    private static func masked(_ bytes: [UInt8], prefix: Int) -> [UInt8] {
        bytes.enumerated().map { index, byte in
            let keep = min(8, max(0, prefix - index * 8))
            return keep == 8 ? byte : byte & ~(UInt8(0xff) >> keep)
        }
    }
}

extension Array where Element == SourceRange {
    /// Parses comma-separated ranges (an empty string is no range).
    public init(parsing list: String) throws(SourceRange.Invalid) {
        var ranges: [SourceRange] = []
        for part in list.split(separator: ",") {
            let trimmed = String(part.drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
            if !trimmed.isEmpty { ranges.append(try SourceRange(trimmed)) }
        }
        self = ranges
    }

    /// Whether any range holds `address`.
    public func containsAddress(_ address: SocketAddress) -> Bool {
        contains { $0.contains(address) }
    }
}
