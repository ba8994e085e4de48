/// Target `json`: the JSON the proxy reads from light nodes: request bodies of the native `/v1`
/// API (a value for `POST /v1/values`, a peer record for `POST /v1/peers`, read as the proxy reads
/// a body: `String(decoding:as: UTF8.self)`), and WebSocket messages (`JSONParser.parse`, then the
/// `value` or `peer` of a `putValue` or `announcePeer` re-serialised and read as the route reads it).
///
/// Invariants: whatever parses round-trips through Carrier's own encoder, `parse(v.text) == v`,
/// `Value(json: v.json) == v`, `PeerInfo(json: p.json) == p`, and `validate()` throws or passes;
/// the ids and binaries a message carries as strings (Base58, Base64URL) decode to something that
/// encodes back to the very same text (each has one text form).
import CarrierCore

func fuzzJSON(_ input: [UInt8]) {
    if let tree = try? JSONParser.parse(input) {
        let text = tree.text
        do {
            let again = try JSONParser.parse(text)
            invariant(again == tree, "the compact text \(text.debugDescription) parses to another value")
        } catch { fatalError("the compact text \(text.debugDescription) of a parsed value is refused: \(error)") }
        if case .object(let entries) = tree {
            // A WebSocket request: `putValue` and `announcePeer` hand `value`/`peer` to the REST routes as text.
            for entry in entries {
                switch entry.key {
                case "value": checkValue(entry.value.text)
                case "peer": checkPeer(entry.value.text)
                default: break
                }
            }
        }
        checkStrings(in: tree)
    }
    let body = String(decoding: input, as: UTF8.self)
    checkValue(body)
    checkPeer(body)
}

private func checkValue(_ text: String) {
    guard let value = try? Value(json: text) else { return }
    let json = value.json
    do {
        let again = try Value(json: json)
        invariant(again == value, "Value JSON round trip changed the value:\n\(value)\n\(again)")
    } catch { fatalError("the JSON \(json) of a parsed value is refused: \(error)") }
    _ = try? value.validate()
}

private func checkPeer(_ text: String) {
    guard let peer = try? PeerInfo(json: text) else { return }
    let json = peer.json
    do {
        let again = try PeerInfo(json: json)
        invariant(again == peer, "PeerInfo JSON round trip changed the record:\n\(peer)\n\(again)")
    } catch { fatalError("the JSON \(json) of a parsed peer record is refused: \(error)") }
    _ = try? peer.validate()
}

/// Every string in `tree` read as an id (Base58) and as a binary (Base64URL), as `authenticate`,
/// `subscribe` and the routes' ids are.
private func checkStrings(in tree: JSONValue) {
    switch tree {
    case .string(let text):
        if let id = Id(base58: text) {
            invariant(id.base58 == text, "Base58 \(text.debugDescription) reads as \(id), which is written \(id.base58)")
        }
        if let bytes = Base64URL.decode(text) {
            invariant(Base64URL.encode(bytes) == text, "Base64URL \(text.debugDescription) reads as \(bytes), written \(Base64URL.encode(bytes))")
        }
    case .array(let items): items.forEach(checkStrings)
    case .object(let entries): entries.forEach { checkStrings(in: $0.value) }
    default: break
    }
}
