import CarrierShadow
import NIOCore

/// What one client and one public port may use (docs/shadow.md, "Limits"): from the plugin's
/// config, the same for every client. A limit of 0 where noted means none.
struct ShadowLimits: Sendable {
    /// Mappings one client may hold.
    var mappingsPerClient = 8
    /// Public connections one client may have open at once, over all its mappings.
    var streamsPerClient = 256
    /// Public connections one mapping may have open at once (the public port's cap).
    var streamsPerMapping = 128
    /// Bytes a second one client's streams and datagrams may relay, both directions together,
    /// as billed (0: no limit).
    var bytesPerSecondPerClient = 0
    /// Bytes a second one mapping may relay, both directions together (0: no limit).
    var bytesPerSecondPerMapping = 0
    /// A public connection that carries nothing either way this long is closed (0: never).
    var idleSeconds: Int64 = 900
    /// A public connection open this long is closed (0: no limit).
    var streamSeconds: Int64 = 0
    /// New connections one source address may open to one public port per minute (a burst of a
    /// quarter of it at once).
    var connectionsPerSourcePerMinute = 600
    /// Sources no public port admits, whatever the mapping allows (the operator's denylist).
    var deniedSources: [SourceRange] = []
    /// Connections to the shared HTTP port whose request head is still being read, at most.
    var unroutedHTTPConnections = 1024
    /// Outside addresses one UDP mapping knows at once (each silent one is forgotten after 60 s).
    var sourcesPerDatagramMapping = 1024
    /// How long a public connection waits for the client's data connection.
    var attachSeconds: Int64 = 10
    /// A control connection silent this long is closed (clients ping every 15 s).
    var silenceSeconds: Int64 = 45

    /// Whether `source` passes `deniedSources` and, given one, `mapping`'s own lists.
    func admits(_ source: SocketAddress, to mapping: MappingRequest?) -> Bool {
        !deniedSources.containsAddress(source) && (mapping?.admits(source) ?? true)
    }

    /// `idleSeconds` as a limit (nil: none).
    var idle: TimeAmount? { idleSeconds > 0 ? .seconds(idleSeconds) : nil }
    /// `streamSeconds` as a limit (nil: none).
    var streamLifetime: TimeAmount? { streamSeconds > 0 ? .seconds(streamSeconds) : nil }
}
