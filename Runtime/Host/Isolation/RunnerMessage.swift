import CarrierCore

/// One message between the host and a plugin runner: a CBOR map with a text `op`, an optional
/// `id` (a request expecting an answer, or the request an answer is for) and the op's fields.
/// Records travel in their Boson wire form (a value in a FIND_VALUE response, peers in a FIND_PEER
/// response), so the strict, bounded wire decoder checks them on arrival as it checks the network's.
struct RunnerMessage: Sendable, Equatable {
    let op: String
    let id: UInt64?
    private(set) var fields: [String: CBOR]

    init(_ op: String, id: UInt64? = nil, _ fields: [String: CBOR] = [:]) {
        self.op = op
        self.id = id
        self.fields = fields
    }

    /// Limits for the socket: a message is one datagram of at most `maxSize` bytes (a settlement
    /// batch of `SettlementDesk.maxReceipts` receipts fits).
    static let maxSize = 262_144
    private static let limits: CBORLimits = {
        var limits = CBORLimits()
        limits.maxInputSize = maxSize
        limits.maxStringLength = maxSize
        return limits
    }()

    // MARK: Encoding

    var encoded: [UInt8] {
        var entries = [CBOR.Entry("op", .text(op))]
        if let id { entries.append(CBOR.Entry("id", .unsigned(id))) }
        for (key, value) in fields.sorted(by: { $0.key < $1.key }) { entries.append(CBOR.Entry(key, value)) }
        var writer = CBORWriter()
        writer.item(.map(entries))
        return writer.bytes
    }

    static func decode(_ bytes: [UInt8]) throws(MalformedRunnerMessage) -> RunnerMessage {
        let item: CBOR
        do { item = try CBORDecoder.decode(bytes, limits: limits) } catch { throw MalformedRunnerMessage(description: "not CBOR: \(error)") }
        guard case .map(let entries) = item else { throw MalformedRunnerMessage(description: "a message must be a map, not a \(item.typeName)") }
        var fields = Dictionary(entries.map { ($0.key, $0.value) }, uniquingKeysWith: { first, _ in first })
        guard case .text(let op)? = fields.removeValue(forKey: "op") else { throw MalformedRunnerMessage(description: "a message needs a text `op`") }
        var id: UInt64?
        if let value = fields.removeValue(forKey: "id") {
            guard case .unsigned(let number) = value else { throw MalformedRunnerMessage(description: "`id` of \(op) must be an unsigned integer") }
            id = number
        }
        return RunnerMessage(op, id: id, fields)
    }

    // MARK: Reading fields

    func missing(_ key: String, _ type: String) -> MalformedRunnerMessage { MalformedRunnerMessage(description: "\(op): `\(key)` must be \(type)") }

    func text(_ key: String) throws(MalformedRunnerMessage) -> String {
        guard case .text(let text)? = fields[key] else { throw missing(key, "a text string") }
        return text
    }

    func bytes(_ key: String) throws(MalformedRunnerMessage) -> [UInt8] {
        guard case .bytes(let bytes)? = fields[key] else { throw missing(key, "a byte string") }
        return bytes
    }

    func unsigned(_ key: String) throws(MalformedRunnerMessage) -> UInt64 {
        guard case .unsigned(let number)? = fields[key] else { throw missing(key, "an unsigned integer") }
        return number
    }

    /// A float carried as its IEEE-754 bit pattern (the strict decoder knows no floats).
    func double(_ key: String) throws(MalformedRunnerMessage) -> Double { Double(bitPattern: try unsigned(key)) }

    func id(_ key: String) throws(MalformedRunnerMessage) -> Id {
        guard let id = Id(bytes: try bytes(key)) else { throw missing(key, "a 32-byte id") }
        return id
    }

    func has(_ key: String) -> Bool { fields[key] != nil }

    // MARK: Records

    static func encode(value: Value) -> CBOR {
        .bytes(Message(txid: 1, body: .findValueResponse(FindValueResponse(value: value))).cbor)
    }

    func value(_ key: String) throws(MalformedRunnerMessage) -> Value {
        guard case .findValueResponse(let response) = try boson(key).body, let value = response.value else { throw missing(key, "a value") }
        return value
    }

    static func encode(peers: [PeerInfo]) -> CBOR {
        .bytes(Message(txid: 1, body: .findPeerResponse(FindPeerResponse(peers: peers))).cbor)
    }

    func peers(_ key: String) throws(MalformedRunnerMessage) -> [PeerInfo] {
        guard case .findPeerResponse(let response) = try boson(key).body else { throw missing(key, "peer records") }
        return response.peers
    }

    /// Node infos in order, each `[id, address, port]`.
    static func encode(nodes: [NodeInfo]) -> CBOR {
        .array(nodes.map { .array([.bytes($0.id.bytes), .bytes($0.address.bytes), .unsigned(UInt64($0.port))]) })
    }

    func nodes(_ key: String) throws(MalformedRunnerMessage) -> [NodeInfo] {
        guard case .array(let items)? = fields[key] else { throw missing(key, "a list of nodes") }
        var nodes: [NodeInfo] = []
        for item in items {
            guard case .array(let parts) = item, parts.count == 3, case .bytes(let id) = parts[0], let nodeId = Id(bytes: id),
                  case .bytes(let address) = parts[1], let ip = IPAddress(bytes: address),
                  case .unsigned(let port) = parts[2], (1...65535).contains(port) else { throw missing(key, "a list of [id, address, port]") }
            nodes.append(NodeInfo(id: nodeId, address: ip, port: UInt16(port)))
        }
        return nodes
    }

    private func boson(_ key: String) throws(MalformedRunnerMessage) -> Message {
        do { return try Message.decode(cbor: try bytes(key)) } catch let error as MalformedRunnerMessage { throw error } catch {
            throw MalformedRunnerMessage(description: "\(op): `\(key)` is not a Boson record: \(error)")
        }
    }
}

/// Why a message from the runner's socket cannot be read: the peer is broken (or hostile) and is
/// dropped.
struct MalformedRunnerMessage: Error, CustomStringConvertible {
    let description: String
}
