import CarrierCore
import CarrierHTTP
import CarrierPluginSDK
import NIOHTTP1

/// The native REST API, `/v1/...`, in the Boson JSON forms (values and peer records as
/// `Value.json` / `PeerInfo.json`, node infos as `[id, address, port]`). Every error is
/// `{"error": {"code": C, "message": M}}` with the protocol's code (BOSON-WIRE.md §9) when there
/// is one. Values a light node stores are signed by the light node itself: the proxy checks them
/// as a storing node would and never holds a light node's key.
struct ProxyRoutes: Sendable {
    let host: CarrierHostAPI
    let version: String
    let cache: ValueCache
    let health: ProxyHealth
    let values: ValueWatch
    let peers: PeerWatch
    let writes: WriteGate

    func respond(_ request: HTTPRequest) async -> HTTPAnswer {
        let parts = request.pathSegments
        guard parts.count >= 2, parts.count <= 3, parts[0] == "v1" else {
            return Self.error(.notFound, code: ErrorCode.methodUnknown.rawValue, "no such route: \(request.path)")
        }
        let argument = parts.count == 3 ? parts[2] : nil
        func only(_ method: HTTPMethod, _ answer: () async -> HTTPAnswer) async -> HTTPAnswer {
            guard request.method == method else { return Self.methodNotAllowed(request, allowed: [method]) }
            return await answer()
        }
        switch (parts[1], argument) {
        case ("node", nil): return await only(.GET) { node() }
        case ("health", nil):
            return await only(.GET) { health.isHealthy ? node() : HTTPAnswer(status: .serviceUnavailable, body: node().body) }
        case ("values", let id?): return await only(.GET) { await getValue(id, cas: request.query["cas"]) }
        case ("values", nil): return await only(.POST) { await putValue(request.body, cas: request.query["cas"]) }
        case ("nodes", let id?): return await only(.GET) { await findNode(id) }
        case ("peers", let id?): return await only(.GET) { await findPeers(id) }
        case ("peers", nil): return await only(.POST) { await announce(request.body) }
        case ("services", let type?): return await only(.GET) { await findServices(type) }
        // A GET that asks for the upgrade never gets here (the server makes it a WebSocket).
        case ("ws", nil): return await only(.GET) { Self.upgradeRequired() }
        default: return Self.error(.notFound, code: ErrorCode.methodUnknown.rawValue, "no such route: \(request.path)")
        }
    }

    /// The proxy's id, version and health: `healthy` is false while its node has no live DHT
    /// contact (`contacts` counts the good ones).
    private func node() -> HTTPAnswer {
        .json(JSONValue.object([
            JSONValue.Entry("id", .string(Id(bytes: host.nodeId).map(\.base58) ?? "")),
            JSONValue.Entry("version", .string(version)),
            JSONValue.Entry("healthy", .bool(health.isHealthy)),
            JSONValue.Entry("contacts", .integer(Int64(health.latest?.good ?? 0))),
            JSONValue.Entry("detail", .string(health.detail)),
        ]).text)
    }

    private func getValue(_ text: String, cas: String?) async -> HTTPAnswer {
        guard let id = Id(base58: text) else { return Self.badId(text) }
        let (casValue, refusal) = Self.sequenceNumber(cas)
        if let refusal { return refusal }
        do {
            guard let found = try await cache.value(id, cas: casValue) else {
                return Self.error(.notFound, code: ErrorCode.valueNotExists.rawValue, "no value \(text) on the network")
            }
            return .json(found.json)
        } catch {
            return Self.upstreamFailure(error, "the DHT lookup failed")
        }
    }

    /// The `cas` query parameter (a sequence number, 0 to Int32.max): nil when absent; the answer
    /// to send back when malformed.
    private static func sequenceNumber(_ text: String?) -> (cas: Int32?, refusal: HTTPAnswer?) {
        guard let text else { return (nil, nil) }
        guard let parsed = Int32(text), parsed >= 0 else {
            return (nil, error(.badRequest, code: ErrorCode.protocolError.rawValue, "cas must be an integer from 0 to \(Int32.max)"))
        }
        return (parsed, nil)
    }

    private func putValue(_ body: [UInt8], cas casText: String?) async -> HTTPAnswer {
        let (cas, refusal) = Self.sequenceNumber(casText)
        if let refusal { return refusal }
        let value: Value
        do {
            value = try Value(json: String(decoding: body, as: UTF8.self))
            try value.validate()
        } catch let error as ProtocolError {
            return Self.error(.badRequest, code: error.code.rawValue, error.reason)
        } catch {
            return Self.error(.badRequest, code: ErrorCode.protocolError.rawValue, "not a value: \(error)")
        }
        do {
            // A store that no node accepted throws (refused), so here at least one node holds it.
            guard let (accepted, asked) = try await writes.run({ try await host.storeValue(DHTValue(value), cas: cas) }) else { return busy() }
            await cache.remember(value)
            await values.offer(value)
            return .json(#"{"id":"\#(value.id.base58)","accepted":\#(accepted),"asked":\#(asked)}"#)
        } catch let failure as CarrierHostAPI.Failure where failure.isConflict {
            // With a cas, CasFail; without, a node holds a greater seq or other content at this
            // one (SequenceNotMonotonic). Either way nothing is cached.
            guard let cas else {
                return Self.error(.conflict, code: ErrorCode.sequenceNotMonotonic.rawValue,
                                  "a node holds seq \(value.sequenceNumber) or greater with other content: read it, then put a greater seq")
            }
            return Self.error(.conflict, code: ErrorCode.casFail.rawValue, "a node holds a version newer than cas \(cas): read it again")
        } catch {
            return Self.upstreamFailure(error, "no node stored the value")
        }
    }

    private func findNode(_ text: String) async -> HTTPAnswer {
        guard let id = Id(base58: text) else { return Self.badId(text) }
        do {
            let nodes = try await host.findNode(id.bytes).compactMap { contact -> String? in
                guard let nodeId = Id(bytes: contact.id), let address = IPAddress(bytes: contact.address) else { return nil }
                return #"["\#(nodeId.base58)","\#(address.compactText)",\#(contact.port)]"#
            }
            return .json(#"{"nodes":[\#(nodes.joined(separator: ","))]}"#)
        } catch {
            return Self.upstreamFailure(error, "the DHT lookup failed")
        }
    }

    private func findPeers(_ text: String) async -> HTTPAnswer {
        guard let id = Id(base58: text) else { return Self.badId(text) }
        do {
            let peers = try await host.findPeers(id.bytes).compactMap(PeerInfo.init).map(\.json)
            return .json(#"{"peers":[\#(peers.joined(separator: ","))]}"#)
        } catch {
            return Self.upstreamFailure(error, "the DHT lookup failed")
        }
    }

    /// Announces a peer record the light node signed (as owner of the peer id); the proxy checks
    /// it as a storing node would.
    private func announce(_ body: [UInt8]) async -> HTTPAnswer {
        let peer: PeerInfo
        do {
            peer = try PeerInfo(json: String(decoding: body, as: UTF8.self))
            try peer.validate()
        } catch let error as ProtocolError {
            return Self.error(.badRequest, code: error.code.rawValue, error.reason)
        } catch {
            return Self.error(.badRequest, code: ErrorCode.protocolError.rawValue, "not a peer record: \(error)")
        }
        do {
            guard let (accepted, asked) = try await writes.run({ try await host.announcePeer(PeerRecord(peer)) }) else { return busy() }
            await peers.offer([peer], for: peer.peerId)
            return .json(#"{"id":"\#(peer.peerId.base58)","accepted":\#(accepted),"asked":\#(asked)}"#)
        } catch {
            return Self.upstreamFailure(error, "no node took the announcement")
        }
    }

    /// The supernodes offering a service type, from their signed service records
    /// (`ServiceRecord`): node id, endpoint, plugin, version and price summary.
    private func findServices(_ type: String) async -> HTTPAnswer {
        guard type.utf8.count <= 64, !type.isEmpty, type.utf8.allSatisfy({ ("a"..."z").contains(Character(UnicodeScalar($0)))
                || ("0"..."9").contains(Character(UnicodeScalar($0))) || "._-".utf8.contains($0) }) else {
            return Self.error(.badRequest, code: ErrorCode.protocolError.rawValue, "\(type) is not a service type ([a-z0-9._-], 1 to 64)")
        }
        do {
            let records = try await host.findPeers(ServiceRecord.peerKey(for: type).publicKey.bytes)
            let offers = records.compactMap(PeerInfo.init).compactMap { ServiceRecord($0, type: type) }.filter { !$0.withdrawn }
            let items = offers.map { offer in
                JSONValue.object([
                    JSONValue.Entry("node", .string(offer.node.base58)), JSONValue.Entry("endpoint", .string(offer.endpoint)),
                    JSONValue.Entry("plugin", .string(offer.pluginId)), JSONValue.Entry("version", .string(offer.version)),
                ] + (offer.priceSummary.map { [JSONValue.Entry("price", .string($0))] } ?? []))
            }
            return .json(JSONValue.object([JSONValue.Entry("type", .string(type)), JSONValue.Entry("providers", .array(items))]).text)
        } catch {
            return Self.upstreamFailure(error, "the DHT lookup failed")
        }
    }

    private func busy() -> HTTPAnswer {
        var answer = Self.error(.serviceUnavailable, code: ErrorCode.serverError.rawValue, writes.busyMessage)
        answer.retryAfter = 1
        return answer
    }

    /// 405, with `Allow` naming what the path serves (HEAD with GET: the server answers a HEAD
    /// as its GET); `openDHT` answers in OpenDHT's error form.
    static func methodNotAllowed(_ request: HTTPRequest, allowed: [HTTPMethod], openDHT: Bool = false) -> HTTPAnswer {
        let message = "\(request.method) is not allowed on \(request.path)"
        var answer = openDHT ? OpenDHTRoutes.error(.methodNotAllowed, message) : error(.methodNotAllowed, code: ErrorCode.methodUnknown.rawValue, message)
        let names = allowed.flatMap { $0 == .GET ? ["GET", "HEAD"] : ["\($0)"] }
        answer.headers.append((name: "Allow", value: names.joined(separator: ", ")))
        return answer
    }

    /// `GET /v1/ws` without `Upgrade: websocket`: 426, naming the protocol to upgrade to.
    private static func upgradeRequired() -> HTTPAnswer {
        var answer = error(.upgradeRequired, code: ErrorCode.protocolError.rawValue, "/v1/ws is a WebSocket: ask for Upgrade: websocket")
        answer.headers = [(name: "Upgrade", value: "websocket")]
        return answer
    }

    static func badId(_ text: String) -> HTTPAnswer {
        error(.badRequest, code: ErrorCode.protocolError.rawValue, "\(text) is not an id (Base58, 32 bytes)")
    }

    /// The HTTP server's own refusals (a bad target, a body too large, a request too slow) in
    /// this API's error form.
    static func refusal(_ status: HTTPResponseStatus, _ message: String) -> HTTPAnswer {
        let code: ErrorCode = switch status {
        case .payloadTooLarge: .messageTooBig
        case .badRequest: .protocolError
        default: .genericError
        }
        return error(status, code: code.rawValue, message)
    }

    static func error(_ status: HTTPResponseStatus, code: Int32, _ message: String) -> HTTPAnswer {
        var quoted: [UInt8] = []
        JSONText.appendQuoted(message, to: &quoted)
        return .json(#"{"error":{"code":\#(code),"message":\#(String(decoding: quoted, as: UTF8.self))}}"#, status)
    }
}

extension HTTPRequest {
    /// The path's segments between slashes (empty ones dropped), split on the byte "/": a split of
    /// the `String` goes by grapheme clusters, and a segment that begins with a combining mark or
    /// an emoji modifier would swallow the slash before it (`/v1/nodes/\u{301}` read as two
    /// segments, "v1" and "nodes/\u{301}", and answered 404 instead of 400).
    var pathSegments: [String] {
        path.utf8.split(separator: UInt8(ascii: "/")).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Whether the path begins with `prefix`, byte for byte (see `pathSegments`).
    func pathStarts(with prefix: String) -> Bool { path.utf8.starts(with: prefix.utf8) }

}

extension ProxyRoutes {
    /// A DHT call that failed: 503 when no node answered (the network, not the item, is missing:
    /// try again), 502 otherwise.
    static func upstreamFailure(_ error: any Error, _ what: String) -> HTTPAnswer {
        if let failure = error as? CarrierHostAPI.Failure, failure.isUnreachable {
            return Self.error(.serviceUnavailable, code: ErrorCode.serverError.rawValue, "\(what): no node could be reached (\(error))")
        }
        return Self.error(.badGateway, code: ErrorCode.serverError.rawValue, "\(what): \(error)")
    }
}
