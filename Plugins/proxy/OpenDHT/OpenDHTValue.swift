import CarrierCore
import Foundation

/// Why a body is not an OpenDHT value (or a stored bucket not a list of them).
struct OpenDHTValueError: Error, CustomStringConvertible {
    let description: String
}

/// One OpenDHT value in the JSON form of OpenDHT's proxy API (2.4), e.g.
/// `{"data":"aGVsbG8=","id":"77","type":0,"utype":"text/plain"}`: `id` a decimal 64-bit number
/// in a string (0 asks the proxy to pick one), `data` standard Base64, `type` a value type,
/// `utype` a MIME type. Signed and encrypted values (`owner`, `sig`, `seq`, `cypher`, `to`,
/// `prio`) are accepted as OpenDHT shapes them; whether they fit is `OpenDHTBucket`'s call.
/// Fields are kept in key order, as OpenDHT's writer (jsoncpp) prints them.
struct OpenDHTValue: Equatable, Sendable {
    var id: UInt64
    /// Every field but `id`, sorted by key.
    var fields: [JSONValue.Entry]

    /// Fields a value may carry, with the JSON type each must have.
    private static let known: [String: String] = [
        "data": "string", "cypher": "string", "type": "integer", "utype": "string", "seq": "integer",
        "owner": "string", "sig": "string", "to": "string", "prio": "integer",
    ]

    /// Reads a POSTed value; returns it and whether the client asked for a permanent put.
    static func parse(_ body: [UInt8]) throws(OpenDHTValueError) -> (value: OpenDHTValue, permanent: Bool) {
        let json: JSONValue
        do { json = try JSONParser.parse(body) } catch { throw OpenDHTValueError(description: "the body is not JSON: \(error)") }
        guard case .object(let entries) = json else { throw OpenDHTValueError(description: "an OpenDHT value is a JSON object, not \(json.typeName)") }
        var id: UInt64 = 0, permanent = false
        var fields: [JSONValue.Entry] = []
        for entry in entries {
            switch (entry.key, entry.value) {
            case ("id", .string(let text)):
                guard let number = UInt64(text) else { throw OpenDHTValueError(description: "id \"\(text)\" is not a 64-bit decimal number") }
                id = number
            case ("id", .integer(let number)) where number >= 0: id = UInt64(number)
            case ("id", .largeUnsigned(let number)): id = number
            case ("id", _): throw OpenDHTValueError(description: "id must be a decimal number in a string")
            case ("permanent", .bool(let flag)): permanent = flag
            case ("permanent", _): throw OpenDHTValueError(description: "permanent must be true or false")
            default: fields.append(entry)
            }
        }
        return (OpenDHTValue(id: id, fields: try checked(fields)), permanent)
    }

    /// The fields of a value other than `id` (from a POST, or read back from a bucket someone
    /// else may have written), checked and sorted by key: every field known and of its JSON type,
    /// binaries in Base64, numbers in range, and data (or cypher) present.
    static func checked(_ fields: [JSONValue.Entry]) throws(OpenDHTValueError) -> [JSONValue.Entry] {
        for entry in fields {
            guard let type = known[entry.key] else { throw OpenDHTValueError(description: "unknown field \"\(entry.key)\"") }
            guard entry.value.typeName == type else { throw OpenDHTValueError(description: "\(entry.key) must be a JSON \(type), not \(entry.value.typeName)") }
        }
        for key in ["data", "cypher", "sig"] {
            if case .string(let text)? = fields.first(where: { $0.key == key })?.value, Data(base64Encoded: text) == nil {
                throw OpenDHTValueError(description: "\(key) is not Base64")
            }
        }
        guard fields.contains(where: { $0.key == "data" || $0.key == "cypher" }) else {
            throw OpenDHTValueError(description: "a value needs data (or cypher)")
        }
        for (key, range) in [("type", Int64(0)...0xFFFF), ("seq", Int64(0)...Int64(UInt32.max)), ("prio", Int64(0)...Int64(UInt32.max))] {
            guard let value = fields.first(where: { $0.key == key })?.value else { continue }
            guard case .integer(let number) = value, range.contains(number) else {
                throw OpenDHTValueError(description: "\(key) must be an integer from \(range.lowerBound) to \(range.upperBound)")
            }
        }
        return fields.sorted { $0.key < $1.key }
    }

    init(id: UInt64, fields: [JSONValue.Entry]) {
        self.id = id
        self.fields = fields
    }

    /// The value as one line of OpenDHT's API (without the newline); `expired` adds
    /// `"expired":true`, as OpenDHT's listen streams announce a value that is gone.
    func json(expired: Bool = false) -> String {
        var entries = fields + [JSONValue.Entry("id", .string(String(id)))]
        if expired { entries.append(JSONValue.Entry("expired", .bool(true))) }
        return JSONValue.object(entries.sorted { $0.key < $1.key }).text
    }
}
