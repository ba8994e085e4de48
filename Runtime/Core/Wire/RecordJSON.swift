/// Values and peer records on their own, as JSON objects with the Boson compact JSON's field
/// names and encodings (ids in Base58, binaries in Base64URL): the form Carrier's HTTP APIs speak
/// (the proxy's REST and WebSocket routes), so a light node reads and writes exactly the fields a
/// Boson message carries. Decoding applies the wire decoder's rules, and rejects trailing input.
///
/// - Value: `{"k", "rec", "n", "seq", "sig", "v"}`, each only when present (as in STORE_VALUE).
/// - Peer record: `{"id", "seq", "o", "os", "sig", "f", "e", "ex"}` (as in a FIND_PEER result).
extension Value {
    /// The value as one JSON object.
    public var json: String {
        var writer = JSONWireWriter()
        writer.beginMap()
        writeFields(to: &writer)
        writer.endMap()
        return String(decoding: writer.output, as: UTF8.self)
    }

    /// Reads a value from its JSON object (unknown keys are ignored, as in messages).
    public init(json text: String) throws(MessageDecodingError) {
        let tree: JSONValue
        do { tree = try JSONParser.parse(text) } catch { throw .json(error) }
        let fields = try WireFields(tree, path: "")
        guard let value = try Value.decodeFields(fields) else { throw fields.invalid("v", "missing (a value needs data)") }
        self = value
    }
}

extension PeerInfo {
    /// The peer record as one JSON object.
    public var json: String {
        var writer = JSONWireWriter()
        writeResultMap(to: &writer)
        return String(decoding: writer.output, as: UTF8.self)
    }

    /// Reads a peer record from its JSON object (`id` and `sig` and `e` required).
    public init(json text: String) throws(MessageDecodingError) {
        let tree: JSONValue
        do { tree = try JSONParser.parse(text) } catch { throw .json(error) }
        self = try PeerInfo.decode(try WireFields(tree, path: ""), peerIdKey: "id", fingerprintRequired: false)
    }
}
