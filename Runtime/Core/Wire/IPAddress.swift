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
    /// Network-order bytes, 4 or 16 of them.
    public let bytes: [UInt8]

    /// An address from raw bytes; nil unless there are exactly 4 or 16.
    public init?(bytes: [UInt8]) {
        guard bytes.count == 4 || bytes.count == 16 else { return nil }
        self.bytes = bytes
    }

    /// Parses a textual IPv4 or IPv6 address.
    public init?(_ text: String) {
        guard !text.utf8.contains(0) else { return nil }  // inet_pton would stop at the NUL
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            self.bytes = withUnsafeBytes(of: &v4) { Array($0) }
            return
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            self.bytes = withUnsafeBytes(of: &v6) { Array($0) }
            return
        }
        return nil
    }

    /// Whether this is a 4-byte IPv4 address.
    public var isIPv4: Bool { bytes.count == 4 }

    /// The usual text form for people and URLs (RFC 5952: `::1`, `2001:db8::7`), from `inet_ntop`.
    public var compactText: String {
        guard !isIPv4 else { return description }
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        return bytes.withUnsafeBytes { raw in
            inet_ntop(AF_INET6, raw.baseAddress, &text, socklen_t(text.count)) != nil
                ? String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : description
        }
    }

    /// The reference's JSON text form (see the type's comment).
    public var description: String {
        if isIPv4 { return bytes.map(String.init).joined(separator: ".") }
        return stride(from: 0, to: 16, by: 2)
            .map { String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16) }
            .joined(separator: ":")
    }
}
