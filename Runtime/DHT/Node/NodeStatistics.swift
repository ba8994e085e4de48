/// What a node counted since it started: traffic, and every kind of input it refused.
public struct NodeStatistics: Sendable, Codable {
    public var datagramsReceived = 0
    public var datagramsSent = 0
    public var requestsAnswered = 0
    /// Datagrams dropped by the inbound rate limit, on the socket's event loop.
    public var throttled = 0
    /// Datagrams the kernel dropped at the node's sockets, nearly all because their receive
    /// buffers were full (the node fell behind; also bad checksums): `SO_MEMINFO`'s count, not
    /// among `datagramsReceived`, and reset when a socket closes.
    public var socketBufferDrops = 0
    /// Datagrams the envelope refused (truncated, oversized, forged, replayed, reflected, ...).
    public var envelopeRejected = 0
    /// Authenticated datagrams that were not a valid message.
    public var malformedMessages = 0
    /// Messages accepted with fields read past, as the reference tolerates them (`Message.ignoredFields`).
    public var messagesWithIgnoredFields = 0
    /// Responses that matched no outstanding request (unknown txid, wrong address, method or id).
    public var unmatchedResponses = 0
    /// Node lists dropped because they broke the per-family or per-source-unit limits.
    public var nodeListsDiscarded = 0
    public var requestsTimedOut = 0
    /// Reconnection rounds of a family cut off from the network, and those in which a contact answered.
    public var reconnectAttempts = 0
    public var reconnections = 0
    /// Requests sent again after a timeout.
    public var retries = 0
    /// Requests not sent because our outbound rate limit for the destination was exhausted, even
    /// after waiting `outboundMaxWait` for a turn.
    public var outboundThrottled = 0
    /// Requests that waited for their turn under the outbound rate limit, then went out.
    public var outboundPaced = 0
    /// Error replies we sent, by code.
    public var errorsSent: [Int32: Int] = [:]
}
