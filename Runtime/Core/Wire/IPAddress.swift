#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An IPv4 (4 bytes) or IPv6 (16 bytes) address as it travels in a NodeInfo.
///
/// Text form follows the reference's JSON output (Java's `getHostAddress`): dotted quad for IPv4,
/// eight lowercase hex groups without leading zeros and without `::` compression for IPv6. Parsing
/// accepts any standard text form.
public struct IPAddress: Hashable, Sendable, CustomStringConvertible {
    /// The network-order bytes as one 128-bit big-endian number (an IPv4 address in the low 32
    /// bits), held inline: an address is made for every datagram and kept in every contact.
    private let high: UInt64, low: UInt64
    /// Whether this is a 4-byte IPv4 address.
    public let isIPv4: Bool

    /// An address from raw bytes; nil unless there are exactly 4 or 16.
    public init?(bytes: UnsafeRawBufferPointer) {
        switch bytes.count {
        case 4:
            (high, low, isIPv4) = (0, UInt64(UInt32(bigEndian: bytes.loadUnaligned(as: UInt32.self))), true)
        case 16:
            high = UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
            low = UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
            isIPv4 = false
        default:
            return nil
        }
    }

    /// An address from raw bytes; nil unless there are exactly 4 or 16.
    public init?(bytes: [UInt8]) {
        guard let address = bytes.withUnsafeBytes({ IPAddress(bytes: $0) }) else { return nil }
        self = address
    }

    /// Parses a textual IPv4 or IPv6 address.
    public init?(_ text: String) {
        guard !text.utf8.contains(0) else { return nil }  // inet_pton would stop at the NUL
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1, let address = Swift.withUnsafeBytes(of: &v4, { IPAddress(bytes: $0) }) {
            self = address
            return
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1, let address = Swift.withUnsafeBytes(of: &v6, { IPAddress(bytes: $0) }) {
            self = address
            return
        }
        return nil
    }

    /// Network-order bytes, 4 or 16 of them.
    public var bytes: [UInt8] { withUnsafeBytes { Array($0) } }

    /// Calls `body` with the network-order bytes (4 or 16), without allocating.
    public func withUnsafeBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        try Swift.withUnsafeBytes(of: (high.bigEndian, low.bigEndian)) { raw in
            try body(isIPv4 ? UnsafeRawBufferPointer(rebasing: raw[12..<16]) : raw)
        }
    }

    /// The IPv4 address, for an IPv4 address or an IPv4-mapped IPv6 one (`::ffff:a.b.c.d`), as a
    /// number; nil for any other IPv6 address.
    public var embeddedIPv4: UInt32? {
        isIPv4 || (high == 0 && low >> 32 == 0xFFFF) ? UInt32(truncatingIfNeeded: low) : nil
    }

    /// The first 64 bits of an IPv6 address (its /64), or 0 for IPv4.
    public var ipv6Prefix: UInt64 { high }

    /// The usual text form for people and URLs (RFC 5952: `::1`, `2001:db8::7`), from `inet_ntop`.
    public var compactText: String {
        guard !isIPv4 else { return description }
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        return withUnsafeBytes { raw in
            inet_ntop(AF_INET6, raw.baseAddress, &text, socklen_t(text.count)) != nil
                ? String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : description
        }
    }

    /// The reference's JSON text form (see the type's comment).
    public var description: String {
        let bytes = self.bytes
        if isIPv4 { return bytes.map(String.init).joined(separator: ".") }
        return stride(from: 0, to: 16, by: 2)
            .map { String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16) }
            .joined(separator: ":")
    }
}
