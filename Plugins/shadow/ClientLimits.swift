import CarrierShadow
import NIOCore

/// What one client may use (docs/shadow.md, "Limits"): the plugin's top-level config for every
/// client, or, for a client on billing plan NAME, `[config.plans.NAME]` on top of it. A limit of 0
/// where noted means none.
struct ClientLimits: Sendable, Equatable {
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
    var idleSeconds = 900
    /// A public connection open this long is closed (0: no limit).
    var streamSeconds = 0

    /// `idleSeconds` as a limit (nil: none).
    var idle: TimeAmount? { idleSeconds > 0 ? .seconds(Int64(idleSeconds)) : nil }
    /// `streamSeconds` as a limit (nil: none).
    var streamLifetime: TimeAmount? { streamSeconds > 0 ? .seconds(Int64(streamSeconds)) : nil }

    /// Each limit's config key, where it is kept, and the values it may take.
    static let keys: [(key: String, limit: any WritableKeyPath<ClientLimits, Int> & Sendable, range: ClosedRange<Int>)] = [
        ("mappingsPerClient", \.mappingsPerClient, 1...ControlMessage.maxMappings),
        ("streamsPerClient", \.streamsPerClient, 1...100_000),
        ("streamsPerMapping", \.streamsPerMapping, 1...100_000),
        ("bytesPerSecondPerClient", \.bytesPerSecondPerClient, 0...100_000_000_000),
        ("bytesPerSecondPerMapping", \.bytesPerSecondPerMapping, 0...100_000_000_000),
        ("idleSeconds", \.idleSeconds, 0...604_800),
        ("streamSeconds", \.streamSeconds, 0...31_536_000),
    ]

    /// These limits with those `integer(key)` sets replaced; `integer` answers nil for a key
    /// that is not set and throws for one out of `range`.
    func overridden(by integer: (_ key: String, _ range: ClosedRange<Int>) throws -> Int?) throws -> ClientLimits {
        var limits = self
        for (key, limit, range) in Self.keys {
            if let value = try integer(key, range) { limits[keyPath: limit] = value }
        }
        return limits
    }
}
