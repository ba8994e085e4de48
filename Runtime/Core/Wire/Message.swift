/// A Boson v3.1 DHT message: the envelope map `{y, t, q|r|e, v}` (BOSON-WIRE.md §3).
///
/// `Message.decode(cbor:)` / `decode(json:)` read the two wire forms; `cbor` and `json` write them
/// byte for byte as the reference implementation does.
public struct Message: Hashable, Sendable {
    /// Transaction id (`t`), 1...Int64.max; a response echoes its request's.
    public var txid: UInt64
    /// Implementation version (`v`); 0 is omitted on the wire.
    public var version: UInt32
    /// What the message says; its case fixes the method and type (`y`).
    public var body: Body
    /// Fields the decoder read past because the reference tolerates them and they carry nothing
    /// (a FIND_VALUE answer's `r.seq` without `v`), by path; empty for every message Carrier writes.
    public var ignoredFields: [String] = []

    /// The version Carrier sends: `"MK"` (Meerkat, the native-node code) version 1.
    public static let carrierVersion: UInt32 = 0x4D4B_0001

    public init(txid: UInt64, version: UInt32 = Message.carrierVersion, body: Body) {
        self.txid = txid
        self.version = version
        self.body = body
    }

    /// The RPC methods (bits 0–4 of `y`).
    public enum Method: UInt8, Sendable, CaseIterable {
        case ping = 1, findNode = 2, announcePeer = 3, findPeer = 4, storeValue = 5, findValue = 6
    }

    /// The message types (bits 5–7 of `y`).
    public enum Kind: UInt8, Sendable {
        case error = 0x00, request = 0x20, response = 0x40
    }

    /// What the message says. Each request and response has its own case; an error names the method
    /// of the request it answers (nil when that request named the unknown method 0).
    public enum Body: Hashable, Sendable {
        case pingRequest
        case pingResponse
        case findNodeRequest(FindNodeRequest)
        case findNodeResponse(FindNodeResponse)
        case findValueRequest(FindValueRequest)
        case findValueResponse(FindValueResponse)
        case storeValueRequest(StoreValueRequest)
        case storeValueResponse
        case findPeerRequest(FindPeerRequest)
        case findPeerResponse(FindPeerResponse)
        case announcePeerRequest(AnnouncePeerRequest)
        case announcePeerResponse
        case error(method: Method?, ErrorBody)

        /// The method this body belongs to (nil only for an error answering method 0).
        public var method: Method? {
            switch self {
            case .pingRequest, .pingResponse: .ping
            case .findNodeRequest, .findNodeResponse: .findNode
            case .findValueRequest, .findValueResponse: .findValue
            case .storeValueRequest, .storeValueResponse: .storeValue
            case .findPeerRequest, .findPeerResponse: .findPeer
            case .announcePeerRequest, .announcePeerResponse: .announcePeer
            case .error(let method, _): method
            }
        }
    }

    /// The message's method (nil only for an error answering method 0).
    public var method: Method? { body.method }

    /// The message's type.
    public var kind: Kind {
        switch body {
        case .pingRequest, .findNodeRequest, .findValueRequest, .storeValueRequest, .findPeerRequest, .announcePeerRequest: .request
        case .error: .error
        default: .response
        }
    }

    /// The `y` field: method | type.
    public var typeCode: UInt8 { (method?.rawValue ?? 0) | kind.rawValue }
}

/// The error body `e`: a code (`c`) and an optional message (`m`).
public struct ErrorBody: Hashable, Sendable {
    /// Usually an `ErrorCode`, but any int32 is carried as received.
    public var code: Int32
    /// `m`: a human-readable reason; empty is omitted on the wire.
    public var message: String

    public init(code: Int32, message: String = "") {
        self.code = code
        self.message = message
    }

    public init(_ error: ProtocolError) {
        self.init(code: error.code.rawValue, message: error.reason)
    }
}
