import CarrierCore

/// The names of the shared HTTP and TLS ports (docs/shadow.md, "Virtual hosts"): each TCP
/// mapping of each client is `<mapping>.<client>.<domain>`, where `<client>` is the first 20 bytes of its node id
/// in lowercase base32 (32 letters and digits: a DNS label, case-insensitive as DNS is). The name
/// follows from the node id alone, so it needs no registry, cannot be taken by another client,
/// and stays the same across reconnects and supernode restarts.
public struct VirtualHosts: Sendable {
    /// The domain under which names are made (an operator's wildcard DNS record points at the
    /// supernode; `shadow.localhost` works without DNS on the supernode's own machine).
    public let domain: String
    /// The shared HTTP port, routed by `Host` (nil: none).
    public let httpPort: Int?
    /// The shared TLS port, routed by the ClientHello's server name (nil: none).
    public let tlsPort: Int?

    public init(domain: String, httpPort: Int?, tlsPort: Int? = nil) {
        self.domain = domain
        self.httpPort = httpPort
        self.tlsPort = tlsPort
    }

    /// The host name of `client`'s mapping `mapping`.
    public func name(_ mapping: String, client: Id) -> String {
        "\(mapping).\(Self.label(client)).\(domain)"
    }

    /// The URL an outside client uses on the HTTP port; nil without one.
    public func httpURL(_ mapping: String, client: Id) -> String? {
        httpPort.map { "http://\(name(mapping, client: client))" + ($0 == 80 ? "" : ":\($0)") }
    }

    /// The URL an outside client uses on the TLS port (for an HTTPS service; any TLS service takes
    /// the same host and port); nil without one.
    public func httpsURL(_ mapping: String, client: Id) -> String? {
        tlsPort.map { "https://\(name(mapping, client: client))" + ($0 == 443 ? "" : ":\($0)") }
    }

    /// Whether `domain` is a valid DNS name for `httpDomain`: labels of [a-z0-9-], not starting or
    /// ending with `-`, at most 63 each, and room left for the two labels put in front.
    public static func isValidDomain(_ domain: String) -> Bool {
        let labels = domain.split(separator: ".", omittingEmptySubsequences: false)
        return !domain.isEmpty && domain.utf8.count <= 253 - 33 - 33 && labels.allSatisfy { label in
            (1...63).contains(label.utf8.count) && label.first != "-" && label.last != "-"
                && label.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7a) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2d }
        }
    }

    private static let alphabet = Array("abcdefghijklmnopqrstuvwxyz234567".utf8)

    /// The first 160 bits of `client`, in RFC 4648 base32 (lowercase, 32 characters, no padding).
    public static func label(_ client: Id) -> String {
        var bits = 0, value = 0
        var text: [UInt8] = []
        for byte in client.bytes.prefix(20) {
            value = (value << 8) | Int(byte)
            bits += 8
            while bits >= 5 {
                bits -= 5
                text.append(alphabet[(value >> bits) & 31])
            }
            value &= (1 << bits) - 1
        }
        return String(decoding: text, as: UTF8.self)
    }
}
