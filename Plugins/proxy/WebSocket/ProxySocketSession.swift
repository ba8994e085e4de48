import CarrierCore
import CarrierHTTP
import CarrierPluginSDK
import NIOHTTP1
import Foundation
import Synchronization

/// One client of `/v1/ws`: the REST API's operations multiplexed by request id, plus
/// subscriptions to values and peers (the protocol is in Plugins/proxy/README.md).
///
/// Every request is answered by the same code as its REST route, so both APIs check and answer
/// alike: `{"req": N, "result": ...}` or `{"req": N, "error": {"code", "message"}}`. A
/// subscription first sends what is current (a value only if newer than the `seq` the client
/// gives, so a client resubscribing after a reconnect gets only what it missed), then every
/// change, as `{"event": "value"|"peers", "subscription": S, ...}`. A subscription the proxy
/// cannot keep (it watches `ValueWatch.maxIds` ids already) ends with `{"event": "ended", ...}`.
final class ProxySocketSession: WebSocketSession {
    static let maxSubscriptions = 256
    static let maxInFlight = 64

    private enum Subscription {
        /// Numbered and counted, while its first lookup runs.
        case pending
        case value(Id, token: UInt64)
        case peer(Id, token: UInt64)
    }

    private struct State {
        var subscriptions: [UInt64: Subscription] = [:]
        var nextSubscription: UInt64 = 0
        var inFlight = 0
        var closed = false
        /// The light node this connection authenticated as (nil: anonymous), until `expires`.
        var client: Id?
        var expires: Double = 0
    }

    private let connection: WebSocketConnection
    private let routes: ProxyRoutes
    private let cache: ValueCache
    private let values: ValueWatch
    private let peers: PeerWatch
    private let access: ProxyAccess
    private let state = Mutex(State())

    init(connection: WebSocketConnection, routes: ProxyRoutes, cache: ValueCache, values: ValueWatch, peers: PeerWatch, access: ProxyAccess) {
        self.access = access
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
        let connection = self.connection
        Task {
            await connection.connections.answer { await serve(request, op: op, fields) }
            state.withLock { $0.inFlight -= 1 }
        }
    }

    func closed() {
        let subscriptions = state.withLock { state -> [Subscription] in
            state.closed = true
            defer { state.subscriptions = [:] }
            return Array(state.subscriptions.values)
        }
        let values = self.values, peers = self.peers, connection = self.connection
        Task {
            await connection.connections.answer {
                for subscription in subscriptions { await Self.end(subscription, values: values, peers: peers) }
            }
        }
    }

    private func serve(_ request: Int64, op: String, _ fields: [String: JSONValue]) async {
        // Every message counts against the address's limit, whatever follows. Authentication
        // first: `challenge`, then `authenticate` with the signed challenge; a session lasts
        // `sessionSeconds`, then the client authenticates again.
        do {
            try access.admitAddress(connection.remote)
        } catch {
            return reply(request, error: error.code, error.message)
        }
        switch op {
        case "challenge":
            guard let (challenge, expires) = access.sessions.challenge(for: connection.remote) else {
                return reply(request, error: .serverError, "too many open challenges; try again shortly")
            }
            connection.send(#"{"req":\#(request),"result":{"challenge":"\#(challenge)","expires":\#(Int64(expires)),"proxy":"\#(access.sessions.proxyId.base58)"}}"#)
            return
        case "authenticate":
            do {
                let node = try access.verify(fields)
                let expires = Date().timeIntervalSince1970 + access.sessions.sessionSeconds
                state.withLock { ($0.client, $0.expires) = (node, expires) }
                connection.send(#"{"req":\#(request),"result":{"node":"\#(node.base58)","expires":\#(Int64(expires))}}"#)
            } catch {
                reply(request, error: error.code, error.description)
            }
            return
        default:
            break
        }
        let session = state.withLock { state -> (client: Id?, expired: Bool) in
            guard let client = state.client else { return (nil, false) }
            guard state.expires > Date().timeIntervalSince1970 else {
                state.client = nil
                return (nil, true)
            }
            return (client, false)
        }
        if session.expired { return reply(request, error: .invalidToken, "the session expired: authenticate again") }
        let client = session.client
        do {
            try access.admitClient(client, remote: connection.remote)
        } catch {
            return reply(request, error: error.code, error.message)
        }
        if await perform(request, op: op, fields) { access.report(client) }
    }

    /// Runs one operation; true if it succeeded (and is billed).
    private func perform(_ request: Int64, op: String, _ fields: [String: JSONValue]) async -> Bool {
        var succeeded = false
        func text(_ key: String) -> String? { if case .string(let text)? = fields[key] { text } else { nil } }
        func http(_ method: HTTPMethod, _ path: String, query: [String: String] = [:], body: String = "") async {
            let answer = await routes.respond(HTTPRequest(method: method, path: path, query: query, remote: connection.remote,
                                                          body: Array(body.utf8)))
            if (200..<300).contains(answer.status.code) {
                succeeded = true
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
            guard let id = await idArgument() else { return false }
            var query: [String: String] = [:]
            if let cas = fields["cas"] { query["cas"] = cas.text }
            await http(.GET, "/v1/values/\(id)", query: query)
        case "putValue":
            guard let value = fields["value"] else {
                reply(request, error: .protocolError, "putValue needs \"value\"")
                return false
            }
            var query: [String: String] = [:]
            if let cas = fields["cas"] { query["cas"] = cas.text }
            await http(.POST, "/v1/values", query: query, body: value.text)
        case "findNode":
            guard let id = await idArgument() else { return false }
            await http(.GET, "/v1/nodes/\(id)")
        case "findPeers":
            guard let id = await idArgument() else { return false }
            await http(.GET, "/v1/peers/\(id)")
        case "announcePeer":
            guard let peer = fields["peer"] else {
                reply(request, error: .protocolError, "announcePeer needs \"peer\"")
                return false
            }
            await http(.POST, "/v1/peers", body: peer.text)
        case "findServices":
            guard let type = text("type") else {
                reply(request, error: .protocolError, "findServices needs \"type\"")
                return false
            }
            await http(.GET, "/v1/services/\(type)")
        case "subscribe": return await subscribe(request, fields)
        case "unsubscribe":
            guard case .integer(let number)? = fields["subscription"], number >= 0,
                  let subscription = state.withLock({ $0.subscriptions.removeValue(forKey: UInt64(number)) }) else {
                reply(request, error: .valueNotExists, "no such subscription")
                return false
            }
            await Self.end(subscription, values: values, peers: peers)
            connection.send(#"{"req":\#(request),"result":{}}"#)
            return true
        default:
            reply(request, error: .methodUnknown, "unknown op \"\(op)\"")
        }
        return succeeded
    }

    private func subscribe(_ request: Int64, _ fields: [String: JSONValue]) async -> Bool {
        let target: (id: String, peer: Bool)
        switch (fields["value"], fields["peer"]) {
        case (.string(let id)?, nil): target = (id, false)
        case (nil, .string(let id)?): target = (id, true)
        default:
            reply(request, error: .protocolError, "subscribe needs \"value\" or \"peer\" (a Base58 id), not both")
            return false
        }
        guard let id = Id(base58: target.id) else {
            reply(request, error: .protocolError, "\(target.id) is not an id (Base58, 32 bytes)")
            return false
        }
        var known: Int32?
        if let seq = fields["seq"] {
            guard case .integer(let number) = seq, let sequence = Int32(exactly: number) else {
                reply(request, error: .protocolError, "seq must be a 32-bit integer")
            return false
            }
            known = sequence
        }
        // The slot is taken now, so an `unsubscribe` sent while the first lookup runs finds it,
        // and concurrent subscribes cannot pass the limit.
        let number = state.withLock { state -> UInt64? in
            guard !state.closed, state.subscriptions.count < Self.maxSubscriptions else { return nil }
            state.nextSubscription += 1
            state.subscriptions[state.nextSubscription] = .pending
            return state.nextSubscription
        }
        guard let number else {
            reply(request, error: .genericError, "at most \(Self.maxSubscriptions) subscriptions per connection")
            return false
        }
        guard await (target.peer ? peers.hasRoom(for: id) : values.hasRoom(for: id)) else {
            state.withLock { _ = $0.subscriptions.removeValue(forKey: number) }
            reply(request, error: .genericError, "the proxy watches as many ids as it can; try again later")
            return false
        }
        connection.send(#"{"req":\#(request),"result":{"subscription":\#(number)}}"#)
        let connection = self.connection
        let registered: Subscription?
        if target.peer {
            let current = ((try? await routes.host.findPeers(id.bytes)) ?? []).compactMap(PeerInfo.init)
            let send: PeerWatch.Listener = { records in
                connection.send(#"{"event":"peers","subscription":\#(number),"peers":[\#(records.map(\.json).joined(separator: ","))]}"#)
            }
            if !current.isEmpty { send(current) }
            registered = await peers.watch(id, known: current, send).map { .peer(id, token: $0) }
        } else {
            let current = try? await cache.value(id)
            let send: ValueWatch.Listener = { value in
                connection.send(#"{"event":"value","subscription":\#(number),"value":\#(value.json)}"#)
            }
            if let current, known.map({ current.publicKey != nil && current.sequenceNumber > $0 }) ?? true { send(current) }
            registered = await values.watch(id, known: current, knownSequence: known, send).map { .value(id, token: $0) }
        }
        // Room ran out while the first lookup ran: the subscription ends as soon as it began.
        guard let subscription = registered else {
            state.withLock { _ = $0.subscriptions.removeValue(forKey: number) }
            connection.send(#"{"event":"ended","subscription":\#(number),"error":{"code":201,"message":"the proxy watches as many ids as it can"}}"#)
            return false
        }
        let kept = state.withLock { state -> Bool in
            guard !state.closed, case .pending? = state.subscriptions[number] else { return false }
            state.subscriptions[number] = subscription
            return true
        }
        if !kept { await Self.end(subscription, values: values, peers: peers) }
        return true
    }

    private static func end(_ subscription: Subscription, values: ValueWatch, peers: PeerWatch) async {
        switch subscription {
        case .pending: break
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
