import CarrierCore
import CarrierDHT

/// A Boson peer on a real UDP socket whose answers a test writes: it opens each sealed request,
/// decodes it, and seals back whatever `answer` returns (raw CBOR, so a test can send what Carrier
/// would never write, such as a FIND_VALUE answer with `seq` but no `v`). Nil stays silent.
final class ScriptedPeer: Sendable {
    let identity = KeyPair.random()
    let transport: UDPTransport
    private let envelope: DatagramEnvelope
    private let receiving: Task<Void, Never>

    /// Starts answering on 127.0.0.1; `answer` gets each request and returns the answer's CBOR.
    init(answer: @escaping @Sendable (Message) -> [UInt8]?) async throws {
        transport = try await UDPTransport(binding: Endpoint("127.0.0.1:0")!)
        let envelope = DatagramEnvelope(identity: identity)
        self.envelope = envelope
        let transport = transport
        receiving = Task {
            await transport.receive { datagram in
                guard let opened = try? envelope.open(datagram.bytes, family: .ipv4),
                      let request = try? Message.decode(cbor: opened.message), request.kind == .request,
                      let reply = answer(request), let sealed = try? envelope.seal(reply, to: opened.sender, family: .ipv4) else { return }
                transport.send(sealed, to: datagram.sender)
            }
        }
    }

    var contact: NodeInfo { NodeInfo(id: identity.publicKey, address: transport.localEndpoint.address, port: transport.localEndpoint.port) }

    func stop() async {
        receiving.cancel()
        await transport.close()
    }

    /// The CBOR of a response to `request` with `fields` as its `r` body (none for a ping).
    static func response(to request: Message, _ fields: [CBOR.Entry]?) -> [UInt8] {
        let type = UInt64(Message.Kind.response.rawValue | request.body.method!.rawValue)
        var entries: [CBOR.Entry] = [.init("y", .unsigned(type)), .init("t", .unsigned(request.txid))]
        if let fields { entries.append(.init("r", .map(fields))) }
        var writer = CBORWriter(capacity: 1024)
        writer.item(.map(entries))
        return writer.bytes
    }

    /// The wire form of an IPv4 node list (`n4`).
    static func nodeList(_ nodes: [NodeInfo]) -> CBOR {
        .array(nodes.map { .array([.bytes($0.id.bytes), .bytes($0.address.bytes), .unsigned(UInt64($0.port))]) })
    }
}
