/// What one client may use (docs/shadow.md, "Limits"): from the plugin's config.
struct ShadowLimits: Sendable {
    /// Mappings one client may hold.
    var mappingsPerClient = 8
    /// Public connections one client may have open at once, over all its mappings.
    var streamsPerClient = 256
    /// Outside addresses one UDP mapping knows at once (each silent one is forgotten after 60 s).
    var sourcesPerDatagramMapping = 1024
    /// How long a public connection waits for the client's data connection.
    var attachSeconds: Int64 = 10
    /// A control connection silent this long is closed (clients ping every 15 s).
    var silenceSeconds: Int64 = 45
}
