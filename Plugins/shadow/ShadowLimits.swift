import CarrierShadow
import NIOCore

/// What the supernode allows (docs/shadow.md, "Limits"): each client's limits (the same for
/// every client, or per billing plan) and its public ports' own checks, from the plugin's config.
struct ShadowLimits: Sendable {
    /// The limits of a client whose plan has none of its own.
    var client = ClientLimits()
    /// The limits of the clients on each billing plan (`[config.plans.NAME]`).
    var plans: [String: ClientLimits] = [:]
    /// New connections one source address may open to one public port per minute (a burst of a
    /// quarter of it at once).
    var connectionsPerSourcePerMinute = 600
    /// Sources no public port admits, whatever the mapping allows (the operator's denylist).
    var deniedSources: [SourceRange] = []
    /// Connections to the shared HTTP and TLS ports whose first bytes are still being read, at most.
    var unroutedSharedPortConnections = 1024
    /// Outside addresses one UDP mapping knows at once (each silent one is forgotten after 60 s).
    var sourcesPerDatagramMapping = 1024
    /// Spare data connections one client may keep ready for its next public connections.
    var sparesPerClient = 8
    /// How long a public connection waits for the client's data connection.
    var attachSeconds: Int64 = 10
    /// A control connection silent this long is closed (clients ping every 15 s).
    var silenceSeconds: Int64 = 45

    /// The limits of a client on billing plan `plan` (nil: no plans, or not known).
    func client(onPlan plan: String?) -> ClientLimits { plan.flatMap { plans[$0] } ?? client }

    /// Whether `source` passes `deniedSources` and, given one, `mapping`'s own lists.
    func admits(_ source: SocketAddress, to mapping: MappingRequest?) -> Bool {
        !deniedSources.containsAddress(source) && (mapping?.admits(source) ?? true)
    }
}
