/// Writes messages in the reference's field order, omitting optional fields when zero, empty or
/// absent (BOSON-WIRE.md §3).
extension Message {
    /// The CBOR wire form.
    public var cbor: [UInt8] {
        var writer = CBORWireWriter()
        write(to: &writer)
        return writer.output.bytes
    }

    /// The compact JSON form, one line.
    public var json: String {
        var writer = JSONWireWriter()
        write(to: &writer)
        return String(decoding: writer.output, as: UTF8.self)
    }

    func write<W: WireWriter>(to writer: inout W) {
        writer.beginMap()
        writer.field("y", unsigned: UInt64(typeCode))
        writer.field("t", unsigned: txid)
        switch body {
        case .pingRequest, .pingResponse, .storeValueResponse, .announcePeerResponse:
            break
        case .findNodeRequest(let request):
            writer.map("q") { writeLookup(target: request.target, want: request.want, to: &$0) }
        case .findNodeResponse(let response):
            writer.map("r") {
                response.nodes.write(to: &$0)
                $0.field("tok", nonZero: Int64(response.token))
            }
        case .findValueRequest(let request):
            writer.map("q") {
                writeLookup(target: request.target, want: request.want, to: &$0)
                writeCAS(request.cas, to: &$0)
            }
        case .findValueResponse(let response):
            writer.map("r") {
                response.nodes.write(to: &$0)
                response.value?.writeFields(to: &$0)
            }
        case .storeValueRequest(let request):
            writer.map("q") {
                $0.field("tok", signed: Int64(request.token))
                writeCAS(request.cas, to: &$0)
                request.value.writeFields(to: &$0)
            }
        case .findPeerRequest(let request):
            writer.map("q") {
                writeLookup(target: request.target, want: request.want, to: &$0)
                writeCAS(request.cas, to: &$0)
                $0.field("e", nonZero: Int64(request.expectedCount))
            }
        case .findPeerResponse(let response):
            writer.map("r") { writer in
                response.nodes.write(to: &writer)
                if !response.peers.isEmpty {
                    writer.key("p")
                    writer.beginList(count: response.peers.count)
                    for peer in response.peers { peer.writeResultMap(to: &writer) }
                    writer.endList()
                }
            }
        case .announcePeerRequest(let request):
            writer.map("q") {
                $0.field("tok", signed: Int64(request.token))
                writeCAS(request.cas, to: &$0)
                request.peer.writeAnnounceFields(to: &$0)
            }
        case .error(_, let error):
            writer.map("e") {
                $0.field("c", signed: Int64(error.code))
                if !error.message.isEmpty { $0.field("m", text: error.message) }
            }
        }
        if version != 0 { writer.field("v", unsigned: UInt64(version)) }
        writer.endMap()
    }

    private func writeLookup<W: WireWriter>(target: Id, want: LookupWant, to writer: inout W) {
        writer.field("t", id: target)
        writer.field("w", unsigned: UInt64(want.rawValue))
    }

    private func writeCAS<W: WireWriter>(_ cas: Int32?, to writer: inout W) {
        if let cas, cas >= 0 { writer.field("cas", signed: Int64(cas)) }
    }
}

extension NodeLists {
    func write<W: WireWriter>(to writer: inout W) {
        for (key, nodes) in [("n4", ipv4), ("n6", ipv6)] where !nodes.isEmpty {
            writer.key(key)
            writer.beginList(count: nodes.count)
            for node in nodes {
                writer.beginNodeInfo()
                writer.id(node.id)
                writer.ipAddress(node.address)
                writer.unsigned(UInt64(node.port))
                writer.endNodeInfo()
            }
            writer.endList()
        }
    }
}

extension Value {
    /// `k, rec, n, seq, sig, v`, each only when present (seq only when non-zero).
    func writeFields<W: WireWriter>(to writer: inout W) {
        if let publicKey { writer.field("k", id: publicKey) }
        if let recipient { writer.field("rec", id: recipient) }
        if let nonce { writer.field("n", binary: nonce) }
        writer.field("seq", nonZero: Int64(sequenceNumber))
        if let signature { writer.field("sig", binary: signature) }
        writer.field("v", binary: data)
    }
}

extension PeerInfo {
    /// ANNOUNCE_PEER fields after `tok`/`cas`: `k, seq, o, os, sig, f, e, ex` (k, sig, f, e always).
    func writeAnnounceFields<W: WireWriter>(to writer: inout W) {
        writer.field("k", id: peerId)
        writeSharedFields(to: &writer, alwaysWriteFingerprint: true)
    }

    /// A FIND_PEER result map: `id, seq, o, os, sig, f, e, ex` (f only when non-zero).
    func writeResultMap<W: WireWriter>(to writer: inout W) {
        writer.beginMap()
        writer.field("id", id: peerId)
        writeSharedFields(to: &writer, alwaysWriteFingerprint: false)
        writer.endMap()
    }

    private func writeSharedFields<W: WireWriter>(to writer: inout W, alwaysWriteFingerprint: Bool) {
        writer.field("seq", nonZero: Int64(sequenceNumber))
        if let nodeId { writer.field("o", id: nodeId) }
        if let nodeSignature { writer.field("os", binary: nodeSignature) }
        writer.field("sig", binary: signature)
        if alwaysWriteFingerprint { writer.field("f", signed: fingerprint) } else { writer.field("f", nonZero: fingerprint) }
        writer.field("e", text: endpoint)
        if let extra, !extra.isEmpty { writer.field("ex", binary: extra) }
    }
}
