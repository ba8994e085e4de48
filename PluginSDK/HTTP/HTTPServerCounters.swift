import Synchronization

/// What an HTTP server refused, by reason, since it started: for the plugin's metrics
/// (`carrier_plugin_*` on the host's `/metrics`).
public final class HTTPServerCounters: Sendable {
    /// Why a connection or request was refused; the raw value is the metric's name.
    public enum Refusal: String, CaseIterable, Sendable {
        /// Over `connectionsPerSource` from one source.
        case connectionsPerSource = "http_refused_connections_per_source"
        /// Over `maxConnections` in all.
        case connectionsTotal = "http_refused_connections_total"
        /// `accept` failed (out of descriptors, most likely); accepting pauses for a second.
        case acceptFailed = "http_accept_failed"
        case headerTimeout = "http_refused_header_timeout"
        case idleTimeout = "http_closed_idle"
        case slowBody = "http_refused_slow_body"
        case writeStall = "http_refused_write_stall"
        case bodyTooLarge = "http_refused_body_too_large"
        case badTarget = "http_refused_bad_target"
        /// A request NIO's parser could not read (answered 400).
        case malformedRequest = "http_refused_malformed"
        /// A WebSocket frame RFC 6455 says must fail the connection, or a fragment out of place
        /// (closed with 1002).
        case webSocketProtocol = "websocket_refused_protocol"
        /// A WebSocket message over `maxMessage` bytes or `maxFragments` frames (closed with 1009).
        case webSocketMessageLimits = "websocket_refused_message_limits"
    }

    private let counts = Mutex([Refusal: Int]())

    public init() {}

    func count(_ refusal: Refusal) {
        counts.withLock { $0[refusal, default: 0] += 1 }
    }

    /// The count of each reason (0 for those never seen).
    public var snapshot: [Refusal: Int] {
        let counts = self.counts.withLock { $0 }
        return Dictionary(uniqueKeysWithValues: Refusal.allCases.map { ($0, counts[$0] ?? 0) })
    }
}
