/// Reads messages from either wire form with the reference's rules (BOSON-WIRE.md §3–5): `y` before
/// the body, the body key the type demands (none for PING and for STORE/ANNOUNCE responses), every
/// field range-checked. Unknown keys are ignored, as the reference does.
extension Message {
    /// Decodes the CBOR form.
    public static func decode(cbor bytes: [UInt8], limits: CBORLimits = .standard) throws(MessageDecodingError) -> Message {
        let tree: CBOR
        do { tree = try CBORDecoder.decode(bytes, limits: limits) } catch { throw .cbor(error) }
        return try decode(tree: tree)
    }

    /// Decodes the compact JSON form (whitespace is tolerated).
    public static func decode(json text: String) throws(MessageDecodingError) -> Message {
        let tree: JSONValue
        do { tree = try JSONParser.parse(text) } catch { throw .json(error) }
        return try decode(tree: tree)
    }

    static func decode<Node: WireNode>(tree: Node) throws(MessageDecodingError) -> Message {
        let fields = try WireFields(tree, path: "")
        let keys = fields.keys
        guard let typeIndex = keys.firstIndex(of: "y") else { throw fields.invalid("y", "missing (the message type is required)") }
        if let bodyIndex = keys.firstIndex(where: { ["q", "r", "e"].contains($0) }), bodyIndex < typeIndex {
            throw fields.invalid("y", "must come before the body")
        }
        let typeCode = try fields.requiredInteger("y", as: UInt8.self)
        let txid = UInt64(try fields.requiredInteger("t", as: Int64.self, in: 1...Int64.max))
        let version = try fields.optionalInteger("v", as: UInt32.self) ?? 0
        guard let kind = Kind(rawValue: typeCode & 0xE0) else {
            throw fields.invalid("y", "unknown message type 0x\(String(typeCode & 0xE0, radix: 16))")
        }
        let methodBits = typeCode & 0x1F
        if methodBits == 0 {
            switch kind {
            case .request: throw .unknownMethod(txid: txid)
            case .error: return Message(txid: txid, version: version, body: .error(method: nil, try decodeError(fields)))
            case .response: throw fields.invalid("y", "a response cannot have method 0")
            }
        }
        guard let method = Method(rawValue: methodBits) else { throw fields.invalid("y", "unknown method \(methodBits)") }
        let body: Body
        var ignored: [String] = []
        switch kind {
        case .request: body = try decodeRequest(method, fields)
        case .response: body = try decodeResponse(method, fields, ignored: &ignored)
        case .error: body = .error(method: method, try decodeError(fields))
        }
        var message = Message(txid: txid, version: version, body: body)
        message.ignoredFields = ignored
        return message
    }

    private static func bodyFields<Node>(_ key: String, of fields: WireFields<Node>, present: Bool) throws(MessageDecodingError) -> WireFields<Node>? {
        if !present {
            guard !fields.has(key) else { throw fields.invalid(key, "this message has no body") }
            return nil
        }
        guard let body = try fields.optionalMap(key) else { throw fields.invalid(key, "missing (this message needs a body)") }
        return body
    }

    private static func decodeRequest<Node>(_ method: Method, _ fields: WireFields<Node>) throws(MessageDecodingError) -> Body {
        guard let q = try bodyFields("q", of: fields, present: method != .ping) else { return .pingRequest }
        switch method {
        case .ping: return .pingRequest
        case .findNode:
            return .findNodeRequest(FindNodeRequest(target: try q.requiredId("t"), want: try want(q)))
        case .findValue:
            return .findValueRequest(FindValueRequest(target: try q.requiredId("t"), want: try want(q), cas: try cas(q)))
        case .findPeer:
            return .findPeerRequest(FindPeerRequest(
                target: try q.requiredId("t"), want: try want(q), cas: try cas(q),
                expectedCount: try q.optionalInteger("e", as: Int32.self, in: 0...Int32.max) ?? 0))
        case .storeValue:
            let token = try q.requiredInteger("tok", as: Int32.self)
            guard let value = try Value.decodeFields(q) else { throw q.invalid("v", "missing (the value data is required)") }
            return .storeValueRequest(StoreValueRequest(token: token, cas: try cas(q), value: value))
        case .announcePeer:
            let token = try q.requiredInteger("tok", as: Int32.self)
            let peer = try PeerInfo.decode(q, peerIdKey: "k", fingerprintRequired: true)
            return .announcePeerRequest(AnnouncePeerRequest(token: token, cas: try cas(q), peer: peer))
        }
    }

    private static func decodeResponse<Node>(_ method: Method, _ fields: WireFields<Node>, ignored: inout [String]) throws(MessageDecodingError) -> Body {
        let hasBody = ![.ping, .storeValue, .announcePeer].contains(method)
        guard let r = try bodyFields("r", of: fields, present: hasBody) else {
            switch method {
            case .ping: return .pingResponse
            case .storeValue: return .storeValueResponse
            default: return .announcePeerResponse
            }
        }
        let nodes = try NodeLists.decode(r)
        switch method {
        case .findNode:
            return .findNodeResponse(FindNodeResponse(nodes: nodes, token: try r.optionalInteger("tok", as: Int32.self) ?? 0))
        case .findValue:
            // Value fields without `v` (a `seq` beside nodes, say) carry nothing: the reference
            // reads past them, and so do we, noting them in `ignoredFields`.
            if !r.has("v") {
                ignored += Value.metadataKeys.filter { r.has($0) }.map { r.fieldPath($0) }
                guard !nodes.isEmpty else { throw r.invalid("v", "a FIND_VALUE response needs n4, n6 or v") }
                return .findValueResponse(FindValueResponse(nodes: nodes, value: nil))
            }
            return .findValueResponse(FindValueResponse(nodes: nodes, value: try Value.decodeFields(r)))
        default:
            var peers: [PeerInfo] = []
            for (index, element) in (try r.optionalArray("p") ?? []).enumerated() {
                peers.append(try PeerInfo.decode(try WireFields(element, path: r.elementPath("p", index)), peerIdKey: "id", fingerprintRequired: false))
            }
            return .findPeerResponse(FindPeerResponse(nodes: nodes, peers: peers))
        }
    }

    private static func decodeError<Node>(_ fields: WireFields<Node>) throws(MessageDecodingError) -> ErrorBody {
        guard let e = try fields.optionalMap("e") else { throw fields.invalid("e", "missing (an error needs a body)") }
        return ErrorBody(code: try e.requiredInteger("c", as: Int32.self), message: try e.optionalText("m") ?? "")
    }

    private static func want<Node>(_ q: WireFields<Node>) throws(MessageDecodingError) -> LookupWant {
        LookupWant(rawValue: try q.requiredInteger("w", as: UInt8.self, in: 0...7))
    }

    private static func cas<Node>(_ q: WireFields<Node>) throws(MessageDecodingError) -> Int32? {
        try q.optionalInteger("cas", as: Int32.self, in: 0...Int32.max)
    }
}

extension NodeLists {
    static func decode<Node>(_ r: WireFields<Node>) throws(MessageDecodingError) -> NodeLists {
        NodeLists(ipv4: try decodeList(r, key: "n4", ipv4: true), ipv6: try decodeList(r, key: "n6", ipv4: false))
    }

    private static func decodeList<Node>(_ r: WireFields<Node>, key: String, ipv4: Bool) throws(MessageDecodingError) -> [NodeInfo] {
        var nodes: [NodeInfo] = []
        for (index, element) in (try r.optionalArray(key) ?? []).enumerated() {
            let invalid = { (problem: String) in MessageDecodingError.invalidField(field: r.elementPath(key, index), problem: problem) }
            guard let parts = element.arrayElements else { throw invalid("expected a node info array, got \(element.typeName)") }
            guard parts.count == 3 else { throw invalid("a node info has 3 elements [id, ip, port], got \(parts.count)") }
            guard let id = parts[0].idValue else { throw invalid("element 0 must be a 32-byte id") }
            guard let address = parts[1].ipAddressValue, address.isIPv4 == ipv4 else {
                throw invalid("element 1 must be an \(ipv4 ? "IPv4" : "IPv6") address")
            }
            guard let port = parts[2].integerValue, (1...65535).contains(port) else { throw invalid("element 2 must be a port in 1...65535") }
            nodes.append(NodeInfo(id: id, address: address, port: UInt16(port)))
        }
        return nodes
    }
}

extension Value {
    /// The value fields other than `v`.
    static let metadataKeys = ["k", "rec", "n", "seq", "sig"]

    /// The value held in `k, rec, n, seq, sig, v` of a body, or nil when there is no `v` and no other
    /// value field. The reference's parse-time rules apply: with `k`, a 64-byte `sig`, `seq` ≥ 0, and
    /// `n` exactly when `rec`. A value field without `v` is an error here; a FIND_VALUE answer reads
    /// past such fields first (`orphanedMetadata`), as the reference does.
    static func decodeFields<Node>(_ fields: WireFields<Node>) throws(MessageDecodingError) -> Value? {
        let publicKey = try fields.optionalId("k")
        let recipient = try fields.optionalId("rec")
        let nonce = try fields.optionalBinary("n", length: SharedKey.nonceByteCount)
        let sequenceNumber = try fields.optionalInteger("seq", as: Int32.self) ?? 0
        let signature = try fields.optionalBinary("sig")
        guard let data = try fields.optionalBinary("v") else {
            for key in metadataKeys where fields.has(key) {
                throw fields.invalid(key, "value field without value data (v)")
            }
            return nil
        }
        guard !data.isEmpty else { throw fields.invalid("v", "value data must not be empty") }
        if publicKey != nil {
            guard let signature else { throw fields.invalid("sig", "missing (a signed value needs a signature)") }
            guard signature.count == KeyPair.signatureByteCount else { throw fields.invalid("sig", "expected 64 bytes, got \(signature.count)") }
            guard sequenceNumber >= 0 else { throw fields.invalid("seq", "must not be negative") }
            guard (recipient == nil) == (nonce == nil) else { throw fields.invalid(recipient == nil ? "rec" : "n", "rec and n must come together") }
        }
        return Value(publicKey: publicKey, recipient: recipient, nonce: nonce, sequenceNumber: sequenceNumber, signature: signature, data: data)
    }
}

extension PeerInfo {
    static func decode<Node>(_ fields: WireFields<Node>, peerIdKey: String, fingerprintRequired: Bool) throws(MessageDecodingError) -> PeerInfo {
        let peerId = try fields.requiredId(peerIdKey)
        let nodeId = try fields.optionalId("o")
        let nodeSignature = try fields.optionalBinary("os", length: KeyPair.signatureByteCount)
        guard (nodeId == nil) == (nodeSignature == nil) else { throw fields.invalid(nodeId == nil ? "o" : "os", "o and os must come together") }
        let sequenceNumber = try fields.optionalInteger("seq", as: Int32.self, in: 0...Int32.max) ?? 0
        guard let signature = try fields.optionalBinary("sig", length: KeyPair.signatureByteCount) else {
            throw fields.invalid("sig", "missing (a peer record needs a signature)")
        }
        let fingerprint: Int64 = fingerprintRequired
            ? try fields.requiredInteger("f", as: Int64.self)
            : try fields.optionalInteger("f", as: Int64.self) ?? 0
        guard let endpoint = try fields.optionalText("e") else { throw fields.invalid("e", "missing (an endpoint is required)") }
        guard !endpoint.isEmpty else { throw fields.invalid("e", "endpoint must not be empty") }
        let extra = try fields.optionalBinary("ex").flatMap { $0.isEmpty ? nil : $0 }  // empty is omitted on the wire
        return PeerInfo(peerId: peerId, nodeId: nodeId, nodeSignature: nodeSignature, sequenceNumber: sequenceNumber,
                        fingerprint: fingerprint, endpoint: endpoint, extra: extra, signature: signature)
    }
}
