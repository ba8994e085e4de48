import CarrierShadow
import NIOCore

/// How one kind of shared port finds a connection's name in its first bytes, and what it answers
/// when it cannot route it: `http` (the `Host` of the request head, refused with an HTTP status)
/// or `tls` (the ClientHello's server name, refused with a TLS alert; the TLS itself is the
/// client's and its service's, never terminated here).
struct SharedPortReading: Sendable {
    /// What the first bytes hold.
    enum Found: Equatable {
        case needMore
        case name(String)
        case malformed
        /// More than `maxBytes` would be needed.
        case tooLarge
    }

    /// Why a connection is not routed.
    enum Refusal: Equatable {
        /// The first bytes do not parse, or name nothing.
        case malformed
        /// They are longer than `maxBytes` without a name.
        case tooLarge
        /// No connected client holds this name.
        case unknown(String)
        /// They did not arrive in time.
        case timeout
    }

    /// The counters' prefix.
    let kind: String
    /// The most bytes read before giving up.
    let maxBytes: Int
    let name: @Sendable (ByteBufferView) -> Found
    /// The bytes sent before closing.
    let refusal: @Sendable (Refusal) -> [UInt8]

    /// The shared HTTP port: a request head of at most 16 KiB, with one `Host`.
    static let http = SharedPortReading(kind: "http", maxBytes: 16_384, name: { bytes in
        guard let end = HTTPHead.end(of: bytes) else { return .needMore }
        guard end <= 16_384 else { return .tooLarge }
        return HTTPHead.host(in: Array(bytes.prefix(end))).map(Found.name) ?? .malformed
    }, refusal: { refusal in
        switch refusal {
        case .malformed: answer(400, "Bad Request", "Bad Request\n")
        case .tooLarge: answer(431, "Request Header Fields Too Large", "Request Header Fields Too Large\n")
        case .unknown(let host): answer(404, "Not Found", "no service at \(host)\n")
        case .timeout: answer(408, "Request Timeout", "Request Timeout\n")
        }
    })

    /// The shared TLS port: a ClientHello whole in its first record, naming a host.
    static let tls = SharedPortReading(kind: "tls", maxBytes: 5 + TLSClientHello.maxRecord, name: { bytes in
        switch TLSClientHello.parse(bytes) {
        case .needMore: .needMore
        case .serverName(let name): .name(name)
        // Whole, but naming nothing: no mapping holds it (`unrecognized_name`).
        case .noServerName: .name("")
        case .malformed: .malformed
        }
    }, refusal: { refusal in
        switch refusal {
        case .malformed, .tooLarge: alert(50)  // decode_error
        case .unknown: alert(112)  // unrecognized_name
        case .timeout: []
        }
    })

    private static func answer(_ status: Int, _ reason: String, _ body: String) -> [UInt8] {
        Array("HTTP/1.1 \(status) \(reason)\r\ncontent-type: text/plain\r\ncontent-length: \(body.utf8.count)\r\nconnection: close\r\n\r\n\(body)".utf8)
    }

    /// A fatal TLS alert record (RFC 8446 section 6) with `description`.
    private static func alert(_ description: UInt8) -> [UInt8] { [21, 3, 3, 0, 2, 2, description] }
}
