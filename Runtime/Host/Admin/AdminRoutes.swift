import CarrierDHT
import Foundation
import NIOHTTP1

/// One answer of the admin endpoint.
public struct AdminResponse: Sendable {
    public let status: HTTPResponseStatus
    public let contentType: String
    public let body: String

    static func json<T: Encodable>(_ value: T, status: HTTPResponseStatus = .ok) -> AdminResponse {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let body = (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        return AdminResponse(status: status, contentType: "application/json", body: body + "\n")
    }

    static func error(_ status: HTTPResponseStatus, _ message: String) -> AdminResponse {
        json(["error": message], status: status)
    }
}

/// What the admin endpoint answers, from the running supernode.
public struct AdminRoutes: Sendable {
    let supernode: Supernode

    public init(supernode: Supernode) {
        self.supernode = supernode
    }

    /// The node at a glance.
    struct Status: Encodable {
        let id: String
        let endpoints: [String]
        let contacts: [String: Int]
        let plugins: [String: Int]
        let statistics: NodeStatistics
    }

    /// One plugin as `/plugins` reports it (and `carrier plugins list` reads it), with its health
    /// when running.
    public struct Plugin: Codable, Sendable {
        public let id: String
        public let manifest: String
        public let state: String
        public let isolation: String
        public let version: String?
        public let error: String?
        public let health: String?
        public let detail: String?
        /// How many times its plugin runner was lost (process isolation).
        public let runnerLosses: Int?
    }

    /// Each route's method, path and answer; `AdminServer` routes requests to them by path alone
    /// (a query string is ignored).
    var table: [(method: HTTPMethod, path: String, answer: @Sendable () async -> AdminResponse)] {
        [(.GET, "/status", { .json(await status()) }),
         (.GET, "/plugins", { .json(await plugins()) }),
         (.GET, "/billing", billing),
         (.GET, "/metrics", { AdminResponse(status: .ok, contentType: "text/plain; version=0.0.4", body: await SupernodeMetrics.text(of: supernode)) }),
         (.POST, "/reload", reload)]
    }

    /// The answer to a request no route takes: 405 on a route's path, else 404.
    func unrouted(method: HTTPMethod, path: String) -> AdminResponse {
        guard table.contains(where: { $0.path == path }) else {
            return .error(.notFound, "no such route: \(path) (try \(table.map { $0.method == .GET ? $0.path : "\($0.method) \($0.path)" }.joined(separator: ", ")))")
        }
        return .error(.methodNotAllowed, "\(method) is not allowed on \(path)")
    }

    private func billing() async -> AdminResponse {
        do { return .json(try supernode.plugins.environment.billing.ledger.totals()) } catch {
            return .error(.internalServerError, "the billing ledger cannot be read: \(error)")
        }
    }

    private func reload() async -> AdminResponse {
        do {
            try await supernode.reload()
            return .json(await plugins())
        } catch {
            return .error(.unprocessableEntity, "\(error)")
        }
    }

    private func status() async -> Status {
        let node = supernode.node
        var contacts: [String: Int] = [:]
        for family in node.families { contacts[family == .ipv4 ? "ipv4" : "ipv6"] = await node.contacts(in: family).count }
        let states = await supernode.plugins.status.map(\.state.rawValue)
        return Status(id: node.id.base58, endpoints: await node.localEndpoints.map(\.description), contacts: contacts,
                      plugins: Dictionary(states.map { ($0, 1) }, uniquingKeysWith: +), statistics: await node.statistics)
    }

    private func plugins() async -> [Plugin] {
        var result: [Plugin] = []
        for status in await supernode.plugins.status {
            var health: String?, detail: String?
            if let instance = await supernode.plugins.instance(status.id), let (state, text) = try? await instance.health() {
                health = PluginHost.name(state)
                detail = text
            }
            result.append(Plugin(id: status.id, manifest: status.manifest, state: status.state.rawValue, isolation: status.isolation.rawValue,
                                 version: status.version, error: status.error, health: health, detail: detail,
                                 runnerLosses: status.isolation == .process ? status.runnerLosses : nil))
        }
        return result
    }
}
