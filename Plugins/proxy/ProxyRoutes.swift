import CarrierCore
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

    func respond(_ request: HTTPRequest) async -> HTTPAnswer {
        let parts = request.path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        guard parts.count >= 2, parts.count <= 3, parts[0] == "v1" else {
            return Self.error(.notFound, code: ErrorCode.methodUnknown.rawValue, "no such route: \(request.path)")
        }
        let argument = parts.count == 3 ? parts[2] : nil
        func only(_ method: HTTPMethod, _ answer: () async -> HTTPAnswer) async -> HTTPAnswer {
            guard request.method == method else {
                return Self.error(.methodNotAllowed, code: ErrorCode.methodUnknown.rawValue, "\(request.method) is not allowed on \(request.path)")
            }
            return await answer()
        }
        switch (parts[1], argument) {
        case ("node", nil):
            return await only(.GET) {
                let id = Id(bytes: host.nodeId).map(\.base58) ?? ""
                return .json(#"{"id":"\#(id)","version":"\#(version)"}"#)
            }
        case ("values", let id?): return await only(.GET) { await getValue(id, cas: request.query["cas"]) }
        case ("values", nil): return await only(.POST) { await putValue(request.body) }
        case ("nodes", let id?): return await only(.GET) { await findNode(id) }
        case ("peers", let id?): return await only(.GET) { await findPeers(id) }
        default: return Self.error(.notFound, code: ErrorCode.methodUnknown.rawValue, "no such route: \(request.path)")
        }
    }

    private func getValue(_ text: String, cas: String?) async -> HTTPAnswer {
        guard let id = Id(base58: text) else { return Self.badId(text) }
        var casValue: Int32 = -1
        if let cas {
            guard let parsed = Int32(cas), parsed >= 0 else { return Self.error(.badRequest, code: ErrorCode.protocolError.rawValue, "cas must be a non-negative integer") }
            casValue = parsed
        }
        do {
            guard let found = try await host.findValue(id.bytes, cas: casValue) else {
                return Self.error(.notFound, code: ErrorCode.valueNotExists.rawValue, "no value \(text) on the network")
            }
            return .json(Self.value(found).json)
        } catch {
            return Self.error(.badGateway, code: ErrorCode.serverError.rawValue, "the DHT lookup failed: \(error)")
        }
    }

    private func putValue(_ body: [UInt8]) async -> HTTPAnswer {
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
            let (accepted, asked) = try await host.storeValue(DHTValue(publicKey: value.publicKey?.bytes, recipient: value.recipient?.bytes,
                                                                       nonce: value.nonce, signature: value.signature,
                                                                       sequenceNumber: value.sequenceNumber, data: value.data))
            return .json(#"{"id":"\#(value.id.base58)","accepted":\#(accepted),"asked":\#(asked)}"#)
        } catch {
            return Self.error(.badGateway, code: ErrorCode.serverError.rawValue, "no node stored the value: \(error)")
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
            return Self.error(.badGateway, code: ErrorCode.serverError.rawValue, "the DHT lookup failed: \(error)")
        }
    }

    private func findPeers(_ text: String) async -> HTTPAnswer {
        guard let id = Id(base58: text) else { return Self.badId(text) }
        do {
            let peers = try await host.findPeers(id.bytes).compactMap(Self.peer).map(\.json)
            return .json(#"{"peers":[\#(peers.joined(separator: ","))]}"#)
        } catch {
            return Self.error(.badGateway, code: ErrorCode.serverError.rawValue, "the DHT lookup failed: \(error)")
        }
    }

    static func value(_ value: DHTValue) -> Value {
        Value(publicKey: value.publicKey.flatMap { Id(bytes: $0) }, recipient: value.recipient.flatMap { Id(bytes: $0) }, nonce: value.nonce,
              sequenceNumber: value.sequenceNumber, signature: value.signature, data: value.data)
    }

    static func peer(_ record: PeerRecord) -> PeerInfo? {
        guard let peerId = Id(bytes: record.peerId) else { return nil }
        return PeerInfo(peerId: peerId, nodeId: record.nodeId.flatMap { Id(bytes: $0) }, nodeSignature: record.nodeSignature,
                        sequenceNumber: record.sequenceNumber, fingerprint: record.fingerprint, endpoint: record.endpoint,
                        extra: record.extra, signature: record.signature)
    }

    static func badId(_ text: String) -> HTTPAnswer {
        error(.badRequest, code: ErrorCode.protocolError.rawValue, "\(text) is not an id (Base58, 32 bytes)")
    }

    static func error(_ status: HTTPResponseStatus, code: Int32, _ message: String) -> HTTPAnswer {
        var quoted: [UInt8] = []
        JSONText.appendQuoted(message, to: &quoted)
        return .json(#"{"error":{"code":\#(code),"message":\#(String(decoding: quoted, as: UTF8.self))}}"#, status)
    }
}
