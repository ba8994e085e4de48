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
        writer.key("y")
        writer.unsigned(UInt64(typeCode))
        writer.key("t")
        writer.unsigned(txid)
        switch body {
        case .pingRequest, .pingResponse, .storeValueResponse, .announcePeerResponse:
            break
        case .findNodeRequest(let request):
            writer.key("q")
            writer.beginMap()
            writeLookup(target: request.target, want: request.want, to: &writer)
            writer.endMap()
        case .findNodeResponse(let response):
            writer.key("r")
            writer.beginMap()
            response.nodes.write(to: &writer)
            if response.token != 0 {
                writer.key("tok")
                writer.signed(Int64(response.token))
            }
            writer.endMap()
        case .findValueRequest(let request):
            writer.key("q")
            writer.beginMap()
            writeLookup(target: request.target, want: request.want, to: &writer)
            writeCAS(request.cas, to: &writer)
            writer.endMap()
        case .findValueResponse(let response):
            writer.key("r")
            writer.beginMap()
            response.nodes.write(to: &writer)
            response.value?.writeFields(to: &writer)
            writer.endMap()
        case .storeValueRequest(let request):
            writer.key("q")
            writer.beginMap()
            writer.key("tok")
            writer.signed(Int64(request.token))
            writeCAS(request.cas, to: &writer)
            request.value.writeFields(to: &writer)
            writer.endMap()
        case .findPeerRequest(let request):
            writer.key("q")
            writer.beginMap()
            writeLookup(target: request.target, want: request.want, to: &writer)
            writeCAS(request.cas, to: &writer)
            if request.expectedCount != 0 {
                writer.key("e")
                writer.signed(Int64(request.expectedCount))
            }
            writer.endMap()
        case .findPeerResponse(let response):
            writer.key("r")
            writer.beginMap()
            response.nodes.write(to: &writer)
            if !response.peers.isEmpty {
                writer.key("p")
                writer.beginList(count: response.peers.count)
                for peer in response.peers { peer.writeResultMap(to: &writer) }
                writer.endList()
            }
            writer.endMap()
        case .announcePeerRequest(let request):
            writer.key("q")
            writer.beginMap()
            writer.key("tok")
            writer.signed(Int64(request.token))
            writeCAS(request.cas, to: &writer)
            request.peer.writeAnnounceFields(to: &writer)
            writer.endMap()
        case .error(_, let error):
            writer.key("e")
            writer.beginMap()
            writer.key("c")
            writer.signed(Int64(error.code))
            if !error.message.isEmpty {
                writer.key("m")
                writer.text(error.message)
            }
            writer.endMap()
        }
        if version != 0 {
            writer.key("v")
            writer.unsigned(UInt64(version))
        }
        writer.endMap()
    }

    private func writeLookup<W: WireWriter>(target: Id, want: LookupWant, to writer: inout W) {
        writer.key("t")
        writer.id(target)
        writer.key("w")
        writer.unsigned(UInt64(want.rawValue))
    }

    private func writeCAS<W: WireWriter>(_ cas: Int32?, to writer: inout W) {
        if let cas, cas >= 0 {
            writer.key("cas")
            writer.signed(Int64(cas))
        }
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
        if let publicKey {
            writer.key("k")
            writer.id(publicKey)
        }
        if let recipient {
            writer.key("rec")
            writer.id(recipient)
        }
        if let nonce {
            writer.key("n")
            writer.binary(nonce)
        }
        if sequenceNumber != 0 {
            writer.key("seq")
            writer.signed(Int64(sequenceNumber))
        }
        if let signature {
            writer.key("sig")
            writer.binary(signature)
        }
        writer.key("v")
        writer.binary(data)
    }
}

extension PeerInfo {
    /// ANNOUNCE_PEER fields after `tok`/`cas`: `k, seq, o, os, sig, f, e, ex` (k, sig, f, e always).
    func writeAnnounceFields<W: WireWriter>(to writer: inout W) {
        writer.key("k")
        writer.id(peerId)
        writeSharedFields(to: &writer, alwaysWriteFingerprint: true)
    }

    /// A FIND_PEER result map: `id, seq, o, os, sig, f, e, ex` (f only when non-zero).
    func writeResultMap<W: WireWriter>(to writer: inout W) {
        writer.beginMap()
        writer.key("id")
        writer.id(peerId)
        writeSharedFields(to: &writer, alwaysWriteFingerprint: false)
        writer.endMap()
    }

    private func writeSharedFields<W: WireWriter>(to writer: inout W, alwaysWriteFingerprint: Bool) {
        if sequenceNumber != 0 {
            writer.key("seq")
            writer.signed(Int64(sequenceNumber))
        }
        if let nodeId {
            writer.key("o")
            writer.id(nodeId)
        }
        if let nodeSignature {
            writer.key("os")
            writer.binary(nodeSignature)
        }
        writer.key("sig")
        writer.binary(signature)
        if alwaysWriteFingerprint || fingerprint != 0 {
            writer.key("f")
            writer.signed(fingerprint)
        }
        writer.key("e")
        writer.text(endpoint)
        if let extra {
            writer.key("ex")
            writer.binary(extra)
        }
    }
}
