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
        (#"{"y":70,"t":1,"r":{"k":"\#(id)"}}"#, "r.k"),
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

    /// The same corpus in CBOR form is refused the same way.
    @Test func theCBORFormsAreRefusedAlike() throws {
        for (json, field) in Self.corpus {
            guard let tree = try? JSONParser.parse(json), let cbor = Self.cbor(of: tree) else { continue }
            #expect(throws: MessageDecodingError.self, "\(field)") { try Message.decode(cbor: cbor) }
        }
    }

    @Test func methodZeroRequestAsksForError204() {
        #expect(throws: MessageDecodingError.unknownMethod(txid: 9)) { try Message.decode(json: #"{"y":32,"t":9}"#) }
    }

    @Test func unknownKeysAreIgnoredAsTheReferenceDoes() throws {
        let message = try Message.decode(json: #"{"y":33,"t":1,"x":[1,2],"v":1}"#)
        #expect(message == Message(txid: 1, version: 1, body: .pingRequest))
    }

    @Test func malformedCBORIsReportedAsCBOR() {
        #expect { try Message.decode(cbor: [0xBF, 0x61]) } throws: {
            if case .cbor = $0 as? MessageDecodingError { return true }
            return false
        }
    }

    /// A structural CBOR translation of a JSON tree (strings stay text), enough to exercise the
    /// same field checks through the CBOR reader.
    private static func cbor(of json: JSONValue) -> [UInt8]? {
        func convert(_ value: JSONValue) -> CBOR? {
            switch value {
            case .integer(let n): return n >= 0 ? .unsigned(UInt64(n)) : .negative(UInt64(-1 - n))
            case .largeUnsigned(let n): return .unsigned(n)
            case .string(let s): return .text(s)
            case .array(let a): let items = a.compactMap(convert); return items.count == a.count ? .array(items) : nil
            case .object(let o):
                let entries = o.compactMap { entry in convert(entry.value).map { CBOR.Entry(entry.key, $0) } }
                return entries.count == o.count ? .map(entries) : nil
            case .null, .bool: return nil
            }
        }
        guard let tree = convert(json) else { return nil }
        var writer = CBORWriter()
        writer.item(tree)
        return writer.bytes
    }
}
