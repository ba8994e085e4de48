import CarrierCore
import NIOCore

/// A mapping's transport.
public enum MappingProtocol: String, Sendable, Equatable, Codable {
    case tcp, udp
}

/// A mapping a client asks for: a name of its choosing (`[a-z0-9-]`, at most 32), a transport, and
/// optionally the source ranges its public port admits or refuses.
public struct MappingRequest: Sendable, Equatable, Hashable {
    public var name: String
    public var transport: MappingProtocol
    /// Sources the public port accepts; empty accepts every source not denied.
    public var allow: [SourceRange]
    /// Sources the public port refuses, whatever `allow` says.
    public var deny: [SourceRange]

    public init(name: String, transport: MappingProtocol, allow: [SourceRange] = [], deny: [SourceRange] = []) {
        self.name = name
        self.transport = transport
        self.allow = allow
        self.deny = deny
    }

    /// Whether the public port takes a connection or datagram from `source`.
    public func admits(_ source: SocketAddress) -> Bool {
        !deny.containsAddress(source) && (allow.isEmpty || allow.containsAddress(source))
    }

    /// Whether `name` is a valid mapping name.
    public static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 32 && name.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7a) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2d }
    }
}

/// A mapping granted: the request, its public port, and for a TCP mapping on a supernode with
/// shared ports, the URLs of its virtual host (`http://web.<client>.<domain>:8080` on the HTTP
/// port, `https://web.<client>.<domain>:8443` on the TLS port).
public struct GrantedMapping: Sendable, Equatable {
    public var request: MappingRequest
    public var port: UInt16
    public var http: String?
    public var https: String?

    public init(_ request: MappingRequest, port: UInt16, http: String? = nil, https: String? = nil) {
        self.request = request
        self.port = port
        self.http = http
        self.https = https
    }
}

/// The control messages (docs/shadow.md, "Control messages"), each a CBOR map with a text `op`.
/// Decoding is strict: an unknown op, a missing, extra or mistyped field is an error.
public enum ControlMessage: Sendable, Equatable {
    case expose([MappingRequest])
    case exposed([GrantedMapping])
    case refused(String)
    case open(stream: UInt64, mapping: String, source: String)
    case attach(stream: UInt64)
    case udp(mapping: String)
    /// The first frame of a spare data connection: kept ready by the supernode for the client's
    /// next public connection, which it then announces with `open` on this connection.
    case spare
    case ping
    case pong
    /// A client choosing a supernode asks how full it is (the connection's first and only message).
    case query
    /// The answer to `query`: the share of the public ports held, in per mille (1000: full).
    case status(load: Int)

    /// The most mappings one `expose` may ask for.
    public static let maxMappings = 64

    private static let limits: CBORLimits = {
        var limits = CBORLimits()
        limits.maxInputSize = ShadowFrame.maxPlaintext
        limits.maxCollectionCount = maxMappings
        limits.maxStringLength = 1024
        return limits
    }()

    public var encoded: [UInt8] {
        var writer = CBORWriter()
        writer.item(item)
        return writer.bytes
    }

    private var item: CBOR {
        func map(_ op: String, _ fields: [(String, CBOR)] = []) -> CBOR {
            .map([CBOR.Entry("op", .text(op))] + fields.map { CBOR.Entry($0.0, $0.1) })
        }
        func request(_ mapping: MappingRequest) -> [(String, CBOR)] {
            var fields: [(String, CBOR)] = [("name", .text(mapping.name)), ("protocol", .text(mapping.transport.rawValue))]
            if !mapping.allow.isEmpty { fields.append(("allow", .array(mapping.allow.map { .text($0.description) }))) }
            if !mapping.deny.isEmpty { fields.append(("deny", .array(mapping.deny.map { .text($0.description) }))) }
            return fields
        }
        switch self {
        case .expose(let mappings): return map("expose", [("mappings", .array(mappings.map { .map(request($0).map { CBOR.Entry($0.0, $0.1) }) }))])
        case .exposed(let mappings):
            return map("exposed", [("mappings", .array(mappings.map { granted in
                .map((request(granted.request) + [("port", .unsigned(UInt64(granted.port)))]
                      + (granted.http.map { [("http", CBOR.text($0))] } ?? [])
                      + (granted.https.map { [("https", CBOR.text($0))] } ?? [])).map { CBOR.Entry($0.0, $0.1) })
            }))])
        case .refused(let reason): return map("refused", [("reason", .text(reason))])
        case .open(let stream, let mapping, let source):
            return map("open", [("stream", .unsigned(stream)), ("mapping", .text(mapping)), ("source", .text(source))])
        case .attach(let stream): return map("attach", [("stream", .unsigned(stream))])
        case .udp(let mapping): return map("udp", [("mapping", .text(mapping))])
        case .spare: return map("spare")
        case .ping: return map("ping")
        case .pong: return map("pong")
        case .query: return map("query")
        case .status(let load): return map("status", [("load", .unsigned(UInt64(load)))])
        }
    }

    /// A malformed control message.
    public struct Malformed: Error, CustomStringConvertible {
        public let description: String
    }

    public init(decoding bytes: [UInt8]) throws(Malformed) {
        let item: CBOR
        do { item = try CBORDecoder.decode(bytes, limits: Self.limits) } catch { throw Malformed(description: "not CBOR: \(error)") }
        var fields = try Self.fields(of: item, "a control message")
        guard case .text(let op)? = fields.removeValue(forKey: "op") else { throw Malformed(description: "a control message needs a text `op`") }
        func take(_ key: String) throws(Malformed) -> CBOR {
            guard let value = fields.removeValue(forKey: key) else { throw Malformed(description: "\(op) needs `\(key)`") }
            return value
        }
        func text(_ key: String) throws(Malformed) -> String {
            guard case .text(let value) = try take(key) else { throw Malformed(description: "\(op): `\(key)` must be text") }
            return value
        }
        func unsigned(_ key: String) throws(Malformed) -> UInt64 {
            guard case .unsigned(let value) = try take(key) else { throw Malformed(description: "\(op): `\(key)` must be an unsigned integer") }
            return value
        }
        /// A granted mapping's optional `key` URL: `key`:// and printable ASCII, at most 300 bytes.
        func url(_ entry: inout [String: CBOR], _ key: String) throws(Malformed) -> String? {
            switch entry.removeValue(forKey: key) {
            case nil: return nil
            case .text(let url)? where url.hasPrefix("\(key)://") && url.utf8.count <= 300 && url.utf8.allSatisfy({ (0x21...0x7e).contains($0) }):
                return url
            default: throw Malformed(description: "\(op): a mapping's `\(key)` must be an \(key):// URL (printable ASCII, at most 300 bytes)")
            }
        }
        func mappings(granted: Bool) throws(Malformed) -> [(MappingRequest, UInt16?, String?, String?)] {
            guard case .array(let items) = try take("mappings") else { throw Malformed(description: "\(op): `mappings` must be an array") }
            var result: [(MappingRequest, UInt16?, String?, String?)] = []
            for item in items {
                var entry = try Self.fields(of: item, "a mapping")
                guard case .text(let name)? = entry.removeValue(forKey: "name"), MappingRequest.isValidName(name) else {
                    throw Malformed(description: "\(op): a mapping's `name` must be 1 to 32 of [a-z0-9-]")
                }
                guard case .text(let transport)? = entry.removeValue(forKey: "protocol"), let parsed = MappingProtocol(rawValue: transport) else {
                    throw Malformed(description: "\(op): a mapping's `protocol` must be \"tcp\" or \"udp\"")
                }
                func ranges(_ key: String) throws(Malformed) -> [SourceRange] {
                    guard let value = entry.removeValue(forKey: key) else { return [] }
                    guard case .array(let texts) = value, (1...SourceRange.maxPerList).contains(texts.count) else {
                        throw Malformed(description: "\(op): a mapping's `\(key)` must be an array of 1 to \(SourceRange.maxPerList) ranges")
                    }
                    var result: [SourceRange] = []
                    for text in texts {
                        guard case .text(let range) = text else { throw Malformed(description: "\(op): `\(key)` holds text ranges") }
                        do { result.append(try SourceRange(range)) } catch { throw Malformed(description: "\(op): `\(key)`: \(error)") }
                    }
                    return result
                }
                let allow = try ranges("allow"), deny = try ranges("deny")
                var port: UInt16?, http: String?, https: String?
                if granted {
                    guard case .unsigned(let number)? = entry.removeValue(forKey: "port"), let value = UInt16(exactly: number), value > 0 else {
                        throw Malformed(description: "\(op): a mapping's `port` must be 1 to 65535")
                    }
                    port = value
                    http = try url(&entry, "http")
                    https = try url(&entry, "https")
                }
                guard entry.isEmpty else { throw Malformed(description: "\(op): a mapping has unknown fields \(entry.keys.sorted())") }
                result.append((MappingRequest(name: name, transport: parsed, allow: allow, deny: deny), port, http, https))
            }
            return result
        }
        switch op {
        case "expose": self = .expose(try mappings(granted: false).map(\.0))
        case "exposed": self = .exposed(try mappings(granted: true).map { GrantedMapping($0.0, port: $0.1!, http: $0.2, https: $0.3) })
        case "refused": self = .refused(try text("reason"))
        case "open": self = .open(stream: try unsigned("stream"), mapping: try text("mapping"), source: try text("source"))
        case "attach": self = .attach(stream: try unsigned("stream"))
        case "udp": self = .udp(mapping: try text("mapping"))
        case "spare": self = .spare
        case "ping": self = .ping
        case "pong": self = .pong
        case "query": self = .query
        case "status":
            let load = try unsigned("load")
            guard load <= 1000 else { throw Malformed(description: "status: `load` must be 0 to 1000 (per mille)") }
            self = .status(load: Int(load))
        default: throw Malformed(description: "unknown op \"\(op)\"")
        }
        guard fields.isEmpty else { throw Malformed(description: "\(op) has unknown fields \(fields.keys.sorted())") }
    }

    private static func fields(of item: CBOR, _ what: String) throws(Malformed) -> [String: CBOR] {
        guard case .map(let entries) = item else { throw Malformed(description: "\(what) must be a map, not a \(item.typeName)") }
        return Dictionary(entries.map { ($0.key, $0.value) }, uniquingKeysWith: { first, _ in first })
    }
}
