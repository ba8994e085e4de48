import CarrierCore
import CarrierPluginSDK
import NIOHTTP1
import Synchronization

/// One client of `/v1/ws`: the REST API's operations multiplexed by request id, plus
/// subscriptions to values and peers (the protocol is in Plugins/proxy/README.md).
///
/// Every request is answered by the same code as its REST route, so both APIs check and answer
/// alike: `{"req": N, "result": ...}` or `{"req": N, "error": {"code", "message"}}`. A
/// subscription first sends what is current (a value only if newer than the `seq` the client
/// gives, so a client resubscribing after a reconnect gets only what it missed), then every
/// change, as `{"event": "value"|"peers", "subscription": S, ...}`.
final class ProxySocketSession: WebSocketSession {
    static let maxSubscriptions = 256
    static let maxInFlight = 64

    private enum Subscription {
        case value(Id, token: UInt64)
        case peer(Id, token: UInt64)
    }

    private struct State {
        var subscriptions: [UInt64: Subscription] = [:]
        var nextSubscription: UInt64 = 0
        var inFlight = 0
        var closed = false
    }

    private let connection: WebSocketConnection
    private let routes: ProxyRoutes
    private let cache: ValueCache
    private let values: ValueWatch
    private let peers: PeerWatch
    private let state = Mutex(State())

    init(connection: WebSocketConnection, routes: ProxyRoutes, cache: ValueCache, values: ValueWatch, peers: PeerWatch) {
        self.connection = connection
        self.routes = routes
        self.cache = cache
        self.values = values
        self.peers = peers
    }

    func received(_ text: String) {
        guard case .object(let entries)? = try? JSONParser.parse(text) else {
            return reply(nil, error: .protocolError, "a message is a JSON object: {\"req\": N, \"op\": ...}")
        }
        let fields = Dictionary(entries.map { ($0.key, $0.value) }, uniquingKeysWith: { first, _ in first })
        guard case .integer(let request)? = fields["req"], request >= 0 else {
            return reply(nil, error: .protocolError, "req must be a non-negative integer")
        }
        guard case .string(let op)? = fields["op"] else { return reply(request, error: .protocolError, "op must be a string") }
        let admitted = state.withLock { state -> Bool in
            guard state.inFlight < Self.maxInFlight else { return false }
            state.inFlight += 1
            return true
        }
        guard admitted else { return reply(request, error: .genericError, "over \(Self.maxInFlight) requests in flight; wait for answers") }
        Task {
            await serve(request, op: op, fields)
            state.withLock { $0.inFlight -= 1 }
        }
    }

    func closed() {
        let subscriptions = state.withLock { state -> [Subscription] in
            state.closed = true
            defer { state.subscriptions = [:] }
            return Array(state.subscriptions.values)
        }
        let values = self.values, peers = self.peers
        Task {
            for subscription in subscriptions { await Self.end(subscription, values: values, peers: peers) }
        }
    }

    private func serve(_ request: Int64, op: String, _ fields: [String: JSONValue]) async {
        func text(_ key: String) -> String? { if case .string(let text)? = fields[key] { text } else { nil } }
        func http(_ method: HTTPMethod, _ path: String, query: [String: String] = [:], body: String = "") async {
            let answer = await routes.respond(HTTPRequest(method: method, path: path, query: query, remote: connection.remote,
                                                          body: Array(body.utf8)))
            if (200..<300).contains(answer.status.code) {
                connection.send(#"{"req":\#(request),"result":\#(answer.body)}"#)
            } else {
                connection.send(#"{"req":\#(request),"# + answer.body.dropFirst())
            }
        }
        func idArgument() async -> String? {
            guard let id = text("id") else {
                reply(request, error: .protocolError, "\(op) needs \"id\" (Base58)")
                return nil
            }
            return id
        }
        switch op {
        case "node": await http(.GET, "/v1/node")
        case "getValue":
            guard let id = await idArgument() else { return }
            var query: [String: String] = [:]
            if let cas = fields["cas"] { query["cas"] = cas.text }
            await http(.GET, "/v1/values/\(id)", query: query)
        case "putValue":
            guard let value = fields["value"] else { return reply(request, error: .protocolError, "putValue needs \"value\"") }
            await http(.POST, "/v1/values", body: value.text)
        case "findNode":
            guard let id = await idArgument() else { return }
            await http(.GET, "/v1/nodes/\(id)")
        case "findPeers":
            guard let id = await idArgument() else { return }
            await http(.GET, "/v1/peers/\(id)")
        case "announcePeer":
            guard let peer = fields["peer"] else { return reply(request, error: .protocolError, "announcePeer needs \"peer\"") }
            await http(.POST, "/v1/peers", body: peer.text)
        case "findServices":
            guard let type = text("type") else { return reply(request, error: .protocolError, "findServices needs \"type\"") }
            await http(.GET, "/v1/services/\(type)")
        case "subscribe": await subscribe(request, fields)
        case "unsubscribe":
            guard case .integer(let number)? = fields["subscription"], number >= 0,
                  let subscription = state.withLock({ $0.subscriptions.removeValue(forKey: UInt64(number)) }) else {
                return reply(request, error: .valueNotExists, "no such subscription")
            }
            await Self.end(subscription, values: values, peers: peers)
            connection.send(#"{"req":\#(request),"result":{}}"#)
        default:
            reply(request, error: .methodUnknown, "unknown op \"\(op)\"")
        }
    }

    private func subscribe(_ request: Int64, _ fields: [String: JSONValue]) async {
        let target: (id: String, peer: Bool)
        switch (fields["value"], fields["peer"]) {
        case (.string(let id)?, nil): target = (id, false)
        case (nil, .string(let id)?): target = (id, true)
        default: return reply(request, error: .protocolError, "subscribe needs \"value\" or \"peer\" (a Base58 id), not both")
        }
        guard let id = Id(base58: target.id) else { return reply(request, error: .protocolError, "\(target.id) is not an id (Base58, 32 bytes)") }
        var known: Int32?
        if let seq = fields["seq"] {
            guard case .integer(let number) = seq, let sequence = Int32(exactly: number) else {
                return reply(request, error: .protocolError, "seq must be a 32-bit integer")
            }
            known = sequence
        }
        let number = state.withLock { state -> UInt64? in
            guard !state.closed, state.subscriptions.count < Self.maxSubscriptions else { return nil }
            state.nextSubscription += 1
            return state.nextSubscription
        }
        guard let number else { return reply(request, error: .genericError, "at most \(Self.maxSubscriptions) subscriptions per connection") }
        connection.send(#"{"req":\#(request),"result":{"subscription":\#(number)}}"#)
        let connection = self.connection
        let subscription: Subscription
        if target.peer {
            let current = ((try? await routes.host.findPeers(id.bytes)) ?? []).compactMap(PeerInfo.init)
            let send: PeerWatch.Listener = { records in
                connection.send(#"{"event":"peers","subscription":\#(number),"peers":[\#(records.map(\.json).joined(separator: ","))]}"#)
            }
            if !current.isEmpty { send(current) }
            subscription = .peer(id, token: await peers.watch(id, known: current, send))
        } else {
            let current = try? await cache.value(id)
            let send: ValueWatch.Listener = { value in
                connection.send(#"{"event":"value","subscription":\#(number),"value":\#(value.json)}"#)
            }
            if let current, known.map({ current.publicKey != nil && current.sequenceNumber > $0 }) ?? true { send(current) }
            subscription = .value(id, token: await values.watch(id, known: current, send))
        }
        let kept = state.withLock { state -> Bool in
            guard !state.closed else { return false }
            state.subscriptions[number] = subscription
            return true
        }
        if !kept { await Self.end(subscription, values: values, peers: peers) }
    }

    private static func end(_ subscription: Subscription, values: ValueWatch, peers: PeerWatch) async {
        switch subscription {
        case .value(let id, let token): await values.unwatch(id, token: token)
        case .peer(let id, let token): await peers.unwatch(id, token: token)
        }
    }

    private func reply(_ request: Int64?, error code: ErrorCode, _ message: String) {
        let error = JSONValue.object([JSONValue.Entry("code", .integer(Int64(code.rawValue))), JSONValue.Entry("message", .string(message))])
        var entries = [JSONValue.Entry("error", error)]
        if let request { entries.insert(JSONValue.Entry("req", .integer(request)), at: 0) }
        connection.send(JSONValue.object(entries).text)
    }
}
