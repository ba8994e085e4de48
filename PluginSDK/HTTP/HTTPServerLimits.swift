/// What one HTTP server allows each connection and source, so that no client can grow its memory
/// or hold its descriptors for free. Every refusal is counted (`HTTPServerCounters`).
///
/// ```swift
/// var limits = HTTPServerLimits()
/// limits.idleTimeout = .seconds(10)
/// let server = try HTTPServer(host: "127.0.0.1", port: 0, limits: limits) { _ in .json("{}") }
/// ```
public struct HTTPServerLimits: Sendable {
    /// The largest request body: a longer `Content-Length` is answered 413 at once, and a chunked
    /// body is cut off (413) when it passes this.
    public var maxBody = 65_536
    /// Connections open at once from one source (an IPv4 address, an IPv6 /64).
    public var connectionsPerSource = 256
    /// Connections open at once in all. The server lowers it to leave room in the process's
    /// descriptor limit (`FileDescriptorLimit`), so it refuses a client rather than run out.
    public var maxConnections = 16_384
    /// From the first byte of a request to the end of its head.
    public var headerTimeout: Duration = .seconds(10)
    /// How long a connection may wait for its next request (keep-alive), or for its first.
    public var idleTimeout: Duration = .seconds(30)
    /// A body must arrive at this many bytes a second on average, once `bodyGrace` has passed.
    public var bodyRateFloor = 1_024
    public var bodyGrace: Duration = .seconds(5)
    /// How long a client may leave its answers unread (the socket above its high-water mark)
    /// before it is disconnected. Meanwhile nothing more is read from it, and no request is
    /// answered, so what it costs is bounded by one read and one answer.
    public var writeStallTimeout: Duration = .seconds(30)

    public init() {}
}
