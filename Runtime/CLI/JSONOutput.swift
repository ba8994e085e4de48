import CarrierCore
import Foundation

/// Small JSON documents for `--json` output, keys sorted, one line.
enum JSONOutput {
    case string(String)
    case number(Int64)
    case null
    indirect case list([JSONOutput])
    indirect case map([String: JSONOutput])

    static func object(_ fields: [String: JSONOutput]) -> String { JSONOutput.map(fields).text }
    static func array(_ items: [String]) -> String { "[" + items.joined(separator: ",") + "]" }

    /// An `Encodable` report as one line, keys sorted.
    static func encoded<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    var text: String {
        switch self {
        case .string(let value):
            var bytes: [UInt8] = []
            JSONText.appendQuoted(value, to: &bytes)
            return String(decoding: bytes, as: UTF8.self)
        case .number(let value): return String(value)
        case .null: return "null"
        case .list(let items): return "[" + items.map(\.text).joined(separator: ",") + "]"
        case .map(let fields):
            return "{" + fields.keys.sorted().map { JSONOutput.string($0).text + ":" + fields[$0]!.text }.joined(separator: ",") + "}"
        }
    }
}
