import CarrierCore
import Testing

/// A corpus of well-formed JSON/CBOR that is not a valid Boson message: each is refused naming the
/// field at fault, never accepted and never a trap.
struct MalformedMessageTests {
    static let id = "HVG7zCqPqKVyxwwwKtC43EasxA3U7uVDLDU2EkRdKoA5"
    static let sig = String(repeating: "A", count: 86)

    /// (JSON text, field the error must name).
    static let corpus: [(String, String)] = [
        (#"[]"#, "message"),
        (#"{"t":1}"#, "y"),
        (#"{"t":1,"q":{},"y":34}"#, "y"),
        (#"{"y":"x","t":1}"#, "y"),
        (#"{"y":256,"t":1}"#, "y"),
        (#"{"y":33}"#, "t"),
        (#"{"y":33,"t":0}"#, "t"),
        (#"{"y":33,"t":-5}"#, "t"),
        (#"{"y":33,"t":18446744073709551615}"#, "t"),
        (#"{"y":33,"t":1,"v":-1}"#, "v"),
        (#"{"y":33,"t":1,"v":4294967296}"#, "v"),
        (#"{"y":97,"t":1}"#, "y"),
        (#"{"y":39,"t":1}"#, "y"),
        (#"{"y":64,"t":1}"#, "y"),
        (#"{"y":33,"t":1,"q":{}}"#, "q"),
        (#"{"y":69,"t":1,"r":{}}"#, "r"),
        (#"{"y":34,"t":1}"#, "q"),
        (#"{"y":34,"t":1,"q":[]}"#, "q"),
        (#"{"y":34,"t":1,"q":{"w":1}}"#, "q.t"),
        (#"{"y":34,"t":1,"q":{"t":"short","w":1}}"#, "q.t"),
        (#"{"y":34,"t":1,"q":{"t":"\#(id)","w":8}}"#, "q.w"),
        (#"{"y":34,"t":1,"q":{"t":"\#(id)"}}"#, "q.w"),
        (#"{"y":38,"t":1,"q":{"t":"\#(id)","w":1,"cas":-1}}"#, "q.cas"),
        (#"{"y":36,"t":1,"q":{"t":"\#(id)","w":1,"e":-3}}"#, "q.e"),
        (#"{"y":66,"t":1,"r":{"n4":[["\#(id)","2001:db8::1",1]]}}"#, "r.n4[0]"),
        (#"{"y":66,"t":1,"r":{"n6":[["\#(id)","10.0.0.1",1]]}}"#, "r.n6[0]"),
        (#"{"y":66,"t":1,"r":{"n4":[["\#(id)","10.0.0.1",0]]}}"#, "r.n4[0]"),
        (#"{"y":66,"t":1,"r":{"n4":[["\#(id)","10.0.0.1",65536]]}}"#, "r.n4[0]"),
        (#"{"y":66,"t":1,"r":{"n4":[["\#(id)","10.0.0.1"]]}}"#, "r.n4[0]"),
        (#"{"y":66,"t":1,"r":{"n4":{}}}"#, "r.n4"),
        (#"{"y":66,"t":1,"r":{"tok":2147483648}}"#, "r.tok"),
        (#"{"y":70,"t":1,"r":{}}"#, "r.v"),
        (#"{"y":70,"t":1,"r":{"k":"\#(id)"}}"#, "r.v"),
        (#"{"y":37,"t":1,"q":{"v":"AQ"}}"#, "q.tok"),
        (#"{"y":37,"t":1,"q":{"tok":1}}"#, "q.v"),
        (#"{"y":37,"t":1,"q":{"tok":1,"v":""}}"#, "q.v"),
        (#"{"y":37,"t":1,"q":{"tok":1,"v":"not base64!"}}"#, "q.v"),
        (#"{"y":37,"t":1,"q":{"tok":1,"k":"\#(id)","v":"AQ"}}"#, "q.sig"),
        (#"{"y":37,"t":1,"q":{"tok":1,"k":"\#(id)","sig":"AQ","v":"AQ"}}"#, "q.sig"),
        (#"{"y":37,"t":1,"q":{"tok":1,"k":"\#(id)","seq":-1,"sig":"\#(sig)","v":"AQ"}}"#, "q.seq"),
        (#"{"y":37,"t":1,"q":{"tok":1,"k":"\#(id)","rec":"\#(id)","sig":"\#(sig)","v":"AQ"}}"#, "q.n"),
        (#"{"y":37,"t":1,"q":{"tok":1,"k":"\#(id)","n":"AAAA","sig":"\#(sig)","v":"AQ"}}"#, "q.n"),
        (#"{"y":35,"t":1,"q":{"tok":1,"sig":"\#(sig)","f":1,"e":"x"}}"#, "q.k"),
        (#"{"y":35,"t":1,"q":{"tok":1,"k":"\#(id)","f":1,"e":"x"}}"#, "q.sig"),
        (#"{"y":35,"t":1,"q":{"tok":1,"k":"\#(id)","sig":"\#(sig)","e":"x"}}"#, "q.f"),
        (#"{"y":35,"t":1,"q":{"tok":1,"k":"\#(id)","sig":"\#(sig)","f":1}}"#, "q.e"),
        (#"{"y":35,"t":1,"q":{"tok":1,"k":"\#(id)","sig":"\#(sig)","f":1,"e":""}}"#, "q.e"),
        (#"{"y":35,"t":1,"q":{"tok":1,"k":"\#(id)","o":"\#(id)","sig":"\#(sig)","f":1,"e":"x"}}"#, "q.os"),
        (#"{"y":68,"t":1,"r":{"p":[{"sig":"\#(sig)","e":"x"}]}}"#, "r.p[0].id"),
        (#"{"y":68,"t":1,"r":{"p":[7]}}"#, "r.p[0]"),
        (#"{"y":5,"t":1}"#, "e"),
        (#"{"y":5,"t":1,"e":{"m":"x"}}"#, "e.c"),
        (#"{"y":5,"t":1,"e":{"c":1,"m":5}}"#, "e.m"),
    ]

    @Test func everyCorpusEntryIsRefusedNamingItsField() {
        for (json, field) in Self.corpus {
            do {
                let message = try Message.decode(json: json)
                Issue.record("accepted \(json) as \(message)")
            } catch {
                guard case .invalidField(let named, let problem) = error else {
                    Issue.record("\(json): unexpected \(error)")
                    continue
                }
                #expect(named == field, "\(json): named \(named) (\(problem)), expected \(field)")
            }
        }
    }

    /// The same corpus in CBOR form is refused naming the same field.
    @Test func theCBORFormsAreRefusedAlike() throws {
        for (json, field) in Self.corpus {
            guard let tree = try? JSONParser.parse(json), let cbor = Self.cbor(of: tree) else { continue }
            do {
                let message = try Message.decode(cbor: cbor)
                Issue.record("accepted the CBOR form of \(json) as \(message)")
            } catch {
                guard case .invalidField(let named, let problem) = error else {
                    Issue.record("\(json): unexpected \(error)")
                    continue
                }
                #expect(named == field, "CBOR form of \(json): named \(named) (\(problem)), expected \(field)")
            }
        }
    }

    @Test func methodZeroRequestAsksForError204() {
        #expect(throws: MessageDecodingError.unknownMethod(txid: 9)) { try Message.decode(json: #"{"y":32,"t":9}"#) }
    }

    @Test func unknownKeysAreIgnoredAsTheReferenceDoes() throws {
        let message = try Message.decode(json: #"{"y":33,"t":1,"x":[1,2],"v":1}"#)
        #expect(message == Message(txid: 1, version: 1, body: .pingRequest))
    }

    @Test func aFindValueAnswerWithNodesAndASeqButNoValueIsReadAsNodesAndTheSeqIgnored() throws {
        // The reference reads past value fields without `v`; an independent implementation sends
        // `seq` beside its nodes.
        let text = #"{"y":70,"t":9,"r":{"n4":[["\#(Self.id)","10.0.0.1",39001]],"seq":3,"k":"\#(Self.id)"}}"#
        let message = try Message.decode(json: text)
        guard case .findValueResponse(let response) = message.body else { Issue.record("not a FIND_VALUE answer"); return }
        #expect(response.value == nil && response.nodes.ipv4.count == 1)
        #expect(message.ignoredFields == ["r.k", "r.seq"])
        let fromCBOR = try Message.decode(cbor: try #require(Self.cbor(of: try JSONParser.parse(text))))
        #expect(fromCBOR.ignoredFields == ["r.k", "r.seq"])
        // A store still needs its value data.
        #expect(throws: MessageDecodingError.self) { try Message.decode(json: #"{"y":37,"t":1,"q":{"tok":1,"seq":2}}"#) }
    }

    @Test func malformedCBORIsReportedAsCBOR() {
        #expect { try Message.decode(cbor: [0xBF, 0x61]) } throws: {
            if case .cbor = $0 as? MessageDecodingError { return true }
            return false
        }
    }

    /// The CBOR form of a JSON tree as the wire would carry it: ids (`t` in a body, `k`, `rec`, `o`,
    /// `id`) and binary fields (`sig`, `os`, `n`, `v` in a body, `ex`) become byte strings when their
    /// text parses, node-info ids and addresses become bytes; anything that does not parse stays
    /// text, so the decoder still meets the same broken field.
    private static func cbor(of json: JSONValue) -> [UInt8]? {
        func convert(_ value: JSONValue, key: String?, depth: Int) -> CBOR? {
            switch value {
            case .integer(let n): return n >= 0 ? .unsigned(UInt64(n)) : .negative(UInt64(-1 - n))
            case .largeUnsigned(let n): return .unsigned(n)
            case .string(let text):
                if depth > 1, ["t", "k", "rec", "o", "id"].contains(key), let id = Id(base58: text) { return .bytes(id.bytes) }
                if depth > 1, ["sig", "os", "n", "v", "ex"].contains(key), let bytes = Base64URL.decode(text) { return .bytes(bytes) }
                return .text(text)
            case .array(let elements):
                if key == "n4" || key == "n6" {
                    let nodes = elements.map { element -> CBOR? in
                        guard case .array(let parts) = element else { return convert(element, key: nil, depth: depth + 1) }
                        return .array(parts.enumerated().compactMap { index, part in
                            if case .string(let text) = part, index == 0, let id = Id(base58: text) { return .bytes(id.bytes) }
                            if case .string(let text) = part, index == 1, let address = IPAddress(text) { return .bytes(address.bytes) }
                            return convert(part, key: nil, depth: depth + 2)
                        })
                    }
                    return nodes.contains { $0 == nil } ? nil : .array(nodes.map { $0! })
                }
                let items = elements.compactMap { convert($0, key: key, depth: depth + 1) }
                return items.count == elements.count ? .array(items) : nil
            case .object(let entries):
                let converted = entries.compactMap { entry in convert(entry.value, key: entry.key, depth: depth + 1).map { CBOR.Entry(entry.key, $0) } }
                return converted.count == entries.count ? .map(converted) : nil
            case .null, .bool: return nil
            }
        }
        guard let tree = convert(json, key: nil, depth: 0) else { return nil }
        var writer = CBORWriter()
        writer.item(tree)
        return writer.bytes
    }
}

/// Smaller refusals and limits found in review.
struct EdgeCaseTests {
    @Test func anAddressWithANulIsRefused() {
        #expect(IPAddress("1.2.3.4\u{0}junk") == nil)
        #expect(IPAddress("1.2.3.4") != nil)
        #expect(throws: MessageDecodingError.self) {
            try Message.decode(json: #"{"y":66,"t":1,"r":{"n4":[["HVG7zCqPqKVyxwwwKtC43EasxA3U7uVDLDU2EkRdKoA5","1.2.3.4\u0000junk",1]]}}"#)
        }
    }

    @Test func outOfRangeIntegersSaySo() {
        #expect(throws: MessageDecodingError.invalidField(field: "t", problem: "integer out of range 1...9223372036854775807")) {
            try Message.decode(cbor: Hex.decode("bf6179182161743bffffffffffffffffff")!)
        }
    }

    @Test func theJSONFormHasTheCBORStringLimit() {
        let long = Base64URL.encode([UInt8](repeating: 1, count: 4097))
        #expect { try Message.decode(json: #"{"y":37,"t":1,"q":{"tok":1,"v":"\#(long)"}}"#) } throws: {
            ($0 as? MessageDecodingError) == .invalidField(field: "q.v", problem: "4097 bytes exceeds the limit of 4096")
        }
    }

    @Test func emptyExtraDataIsOmittedLikeTheReference() throws {
        let peer = PeerInfo.create(owner: KeyPair.random(), endpoint: "tcp://192.0.2.1:1", extra: [])
        #expect(peer.extra == nil)
        try peer.validate()
        var built = peer
        built.extra = []
        let message = Message(txid: 1, body: .findPeerResponse(FindPeerResponse(peers: [built])))
        #expect(!message.json.contains("\"ex\""), "an empty ex is not written")
        let withEmpty = message.json.replacingOccurrences(of: "\"e\":", with: "\"ex\":\"\",\"e\":")
        #expect(withEmpty.contains("\"ex\":\"\""))
        guard case .findPeerResponse(let decoded) = try Message.decode(json: withEmpty).body else { Issue.record("wrong body"); return }
        #expect(decoded.peers[0].extra == nil, "an empty ex on the wire reads as none")
    }

    @Test func decryptRefusesAMalformedNonceInsteadOfReadingPastIt() throws {
        let owner = KeyPair.random(), recipient = KeyPair.random()
        var value = try Value.encrypted(by: owner, for: recipient.publicKey, sequenceNumber: 0, plaintext: [1, 2, 3])
        value.nonce = [1, 2, 3]
        #expect(value.decrypt(with: recipient) == nil)
        #expect(try SharedKey(between: owner, and: recipient.publicKey).open(value.data, nonce: []) == nil)
    }

    @Test func aKeyPairNeverPrintsItsSecret() {
        let keyPair = KeyPair.random()
        let secretHex = Hex.encode(keyPair.secretKey)
        for text in ["\(keyPair)", String(reflecting: keyPair), String(describing: Mirror(reflecting: keyPair).children.map(\.value))] {
            #expect(!text.contains(secretHex) && !text.contains("\(keyPair.secretKey)"))
            #expect(!text.contains("\(keyPair.secretKey[0]), \(keyPair.secretKey[1]), \(keyPair.secretKey[2])"))
        }
    }
}
