import NIOHTTP1

/// One HTTP request as a server's routes see it: method, percent-decoded path and query items
/// (`RequestTarget`), the headers routes look at, the client's address and the whole body.
public struct HTTPRequest: Sendable {
    public let method: HTTPMethod
    public let path: String
    public let query: [String: String]
    public var accept: String
    /// The client's IP address, as text.
    public var remote: String
    /// The `Authorization` header ("Bearer TOKEN" for a light node's session).
    public var authorization: String
    public let body: [UInt8]

    public init(method: HTTPMethod, path: String, query: [String: String] = [:], accept: String = "", remote: String = "",
                authorization: String = "", body: [UInt8] = []) {
        self.method = method
        self.path = path
        self.query = query
        self.accept = accept
        self.remote = remote
        self.authorization = authorization
        self.body = body
    }
}

/// One answer: a status and a body of `contentType`; or, with `stream`, a chunked body that
/// `stream` writes for as long as it likes (a listen).
///
/// ```swift
/// return .json(#"{"ok":true}"#)
/// ```
public struct HTTPAnswer: Sendable {
    public let status: HTTPResponseStatus
    public let body: String
    public var contentType = "application/json"
    public var stream: (@Sendable (HTTPStream) async -> Void)?
    /// Seconds a refused client should wait (`Retry-After`), for 429 and 503 answers.
    public var retryAfter: Int?
    /// Further header fields, e.g. `Allow` on a 405 or `Upgrade` on a 426.
    public var headers: [(name: String, value: String)] = []

    public init(status: HTTPResponseStatus, body: String, contentType: String = "application/json",
                stream: (@Sendable (HTTPStream) async -> Void)? = nil, retryAfter: Int? = nil) {
        self.status = status
        self.body = body
        self.contentType = contentType
        self.stream = stream
        self.retryAfter = retryAfter
    }

    public static func json(_ body: String, _ status: HTTPResponseStatus = .ok) -> HTTPAnswer {
        HTTPAnswer(status: status, body: body)
    }

    /// A 200 with a chunked JSON body written by `writer`, which returns when it is done.
    public static func streamed(_ writer: @escaping @Sendable (HTTPStream) async -> Void) -> HTTPAnswer {
        HTTPAnswer(status: .ok, body: "", stream: writer)
    }
}
