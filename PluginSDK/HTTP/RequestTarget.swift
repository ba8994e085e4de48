/// The target of a request line (`/v1/values/X?cas=3`), split into a path and query items, both
/// percent-decoded, strictly: a target that is not origin-form (`/path?query`), a malformed `%`
/// escape, bytes that are not UTF-8, control characters, or more than `maxQueryItems` items are
/// refused with a `RequestTargetError` (answered 400), never guessed at.
///
/// Query items follow the URL Standard's form encoding (`+` is a space); an item without `=` has
/// the empty value, empty items (`a=1&&b=2`) are skipped, and the first of two equal names wins.
public struct RequestTarget: Sendable, Equatable {
    public static let maxQueryItems = 64

    public let path: String
    public let query: [String: String]

    public init(parsing target: String) throws(RequestTargetError) {
        guard target.utf8.first == UInt8(ascii: "/") else {
            throw RequestTargetError("the request target must be a path (/...), not \(Self.excerpt(target))")
        }
        guard !target.utf8.contains(UInt8(ascii: "#")) else { throw RequestTargetError("a request target has no fragment (#)") }
        let parts = target.utf8.split(separator: UInt8(ascii: "?"), maxSplits: 1, omittingEmptySubsequences: false)
        path = try Self.decode(parts[0], plusIsSpace: false, what: "the path")
        var query: [String: String] = [:]
        if parts.count == 2 {
            let items = parts[1].split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true)
            guard items.count <= Self.maxQueryItems else { throw RequestTargetError("more than \(Self.maxQueryItems) query items") }
            for item in items {
                let pair = item.split(separator: UInt8(ascii: "="), maxSplits: 1, omittingEmptySubsequences: false)
                let name = try Self.decode(pair[0], plusIsSpace: true, what: "a query name")
                let value = pair.count == 2 ? try Self.decode(pair[1], plusIsSpace: true, what: "the value of \(name)") : ""
                if query[name] == nil { query[name] = value }
            }
        }
        self.query = query
    }

    /// Percent-decodes `bytes`: each `%` must be followed by two hex digits, and the result must
    /// be UTF-8 without control characters.
    private static func decode(_ bytes: Substring.UTF8View.SubSequence, plusIsSpace: Bool, what: String) throws(RequestTargetError) -> String {
        var decoded: [UInt8] = []
        decoded.reserveCapacity(bytes.count)
        var index = bytes.startIndex
        while index != bytes.endIndex {
            let byte = bytes[index]
            index = bytes.index(after: index)
            switch byte {
            case UInt8(ascii: "%"):
                guard index != bytes.endIndex, let high = hexValue(bytes[index]) else { throw RequestTargetError("\(what) has a % without two hex digits") }
                index = bytes.index(after: index)
                guard index != bytes.endIndex, let low = hexValue(bytes[index]) else { throw RequestTargetError("\(what) has a % without two hex digits") }
                index = bytes.index(after: index)
                decoded.append(high << 4 | low)
            case UInt8(ascii: "+") where plusIsSpace:
                decoded.append(UInt8(ascii: " "))
            default:
                decoded.append(byte)
            }
        }
        guard !decoded.contains(where: { $0 < 0x20 || $0 == 0x7F }) else { throw RequestTargetError("\(what) holds a control character") }
        guard let text = String(validating: decoded, as: UTF8.self) else { throw RequestTargetError("\(what) is not UTF-8") }
        return text
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    private static func excerpt(_ text: String) -> String {
        text.utf8.count <= 40 ? "\"\(text)\"" : "\"\(text.prefix(40))...\""
    }
}

/// Why a request target was refused.
public struct RequestTargetError: Error, Equatable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
