/// The server name (SNI, RFC 6066) of a TLS ClientHello, read without terminating TLS: what the
/// shared TLS port routes by (docs/shadow.md, "TLS passthrough"). The parse is strict and bounded:
/// the ClientHello must be the first handshake message, whole in the first record (at most
/// 16,384 bytes, as every common client sends it), with every length inside the one around it.
public enum TLSClientHello {
    /// What the bytes read so far hold.
    public enum Outcome: Sendable, Equatable {
        /// Not the whole first record yet.
        case needMore
        /// The ClientHello names this host (lowercased).
        case serverName(String)
        /// A whole, well-formed ClientHello without a host name.
        case noServerName
        /// Not a TLS ClientHello, or one that breaks its own lengths.
        case malformed
    }

    /// A TLS record's header: type, version, length.
    static let recordHeader = 5
    /// The largest plaintext record TLS allows.
    public static let maxRecord = 16_384

    /// The outcome of the first bytes of a connection.
    public static func parse(_ bytes: some Collection<UInt8>) -> Outcome {
        // The header alone first: a record still arriving is not copied again on every read.
        let header = Array(bytes.prefix(recordHeader))
        guard let first = header.first else { return .needMore }
        // A handshake record (22) of TLS 1.x (3.1 to 3.4; ClientHellos say 3.1 for the record).
        guard first == 22 else { return .malformed }
        guard header.count == recordHeader else { return .needMore }
        guard header[1] == 3, (1...4).contains(header[2]) else { return .malformed }
        let length = Int(header[3]) << 8 | Int(header[4])
        guard length >= 4, length <= maxRecord else { return .malformed }
        guard bytes.count >= recordHeader + length else { return .needMore }
        let bytes = Array(bytes.prefix(recordHeader + length))
        var reader = Reader(bytes[recordHeader..<(recordHeader + length)])
        return (try? clientHello(&reader)) ?? .malformed
    }

    private struct Malformed: Error {}

    private static func clientHello(_ record: inout Reader) throws(Malformed) -> Outcome {
        guard try record.byte() == 1 else { throw Malformed() }  // client_hello
        var hello = try record.slice(try record.number(3))
        _ = try hello.slice(2 + 32)  // legacy_version, random
        _ = try hello.slice(try hello.number(1, max: 32))  // legacy_session_id
        let suites = try hello.number(2)
        guard suites >= 2, suites % 2 == 0 else { throw Malformed() }
        _ = try hello.slice(suites)
        _ = try hello.slice(try hello.number(1, min: 1))  // legacy_compression_methods
        guard !hello.isEmpty else { return .noServerName }  // no extensions at all
        var extensions = try hello.slice(try hello.number(2))
        guard hello.isEmpty else { throw Malformed() }
        var seen: Set<Int> = []
        var name: String?
        while !extensions.isEmpty {
            let type = try extensions.number(2)
            var body = try extensions.slice(try extensions.number(2))
            guard seen.insert(type).inserted else { throw Malformed() }  // RFC 8446 4.2: one of each
            guard type == 0 else { continue }
            name = try serverName(&body)
        }
        return name.map(Outcome.serverName) ?? .noServerName
    }

    /// The `server_name` extension's host name (RFC 6066 section 3): one `host_name` entry.
    private static func serverName(_ body: inout Reader) throws(Malformed) -> String {
        var list = try body.slice(try body.number(2, min: 1))
        guard body.isEmpty else { throw Malformed() }
        var host: String?
        while !list.isEmpty {
            let type = try list.byte()
            let name = try list.slice(try list.number(2, min: 1)).rest
            guard type == 0, host == nil else { throw Malformed() }
            guard name.count <= 253, name.allSatisfy(isHostByte), name.first != 0x2e, name.last != 0x2e else { throw Malformed() }
            host = String(decoding: name.map { $0 >= 0x41 && $0 <= 0x5a ? $0 + 32 : $0 }, as: UTF8.self)
        }
        guard let host else { throw Malformed() }
        return host
    }

    /// Letters, digits, `-` and `.`: a DNS host name (RFC 6066 forbids a trailing dot too).
    private static func isHostByte(_ byte: UInt8) -> Bool {
        (byte >= 0x61 && byte <= 0x7a) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x30 && byte <= 0x39) || byte == 0x2d || byte == 0x2e
    }

    /// Reads big-endian fields off a slice, every length checked against what is left.
    private struct Reader {
        private var bytes: ArraySlice<UInt8>

        init(_ bytes: ArraySlice<UInt8>) { self.bytes = bytes }

        var isEmpty: Bool { bytes.isEmpty }
        var rest: ArraySlice<UInt8> { bytes }

        mutating func byte() throws(Malformed) -> UInt8 {
            guard let byte = bytes.first else { throw Malformed() }
            bytes = bytes.dropFirst()
            return byte
        }

        /// An unsigned number of `width` bytes, within `min...max`.
        mutating func number(_ width: Int, min: Int = 0, max: Int = .max) throws(Malformed) -> Int {
            var value = 0
            for _ in 0..<width { value = value << 8 | Int(try byte()) }
            guard value >= min, value <= max else { throw Malformed() }
            return value
        }

        /// The next `count` bytes as a reader of their own.
        mutating func slice(_ count: Int) throws(Malformed) -> Reader {
            guard count <= bytes.count else { throw Malformed() }
            defer { bytes = bytes.dropFirst(count) }
            return Reader(bytes.prefix(count))
        }
    }
}
