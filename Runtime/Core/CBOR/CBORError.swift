/// Why a CBOR input was refused, with the byte offset where the problem was found.
public struct CBORError: Error, Equatable, CustomStringConvertible {
    /// What went wrong.
    public enum Reason: Equatable, Sendable {
        case empty
        case inputTooLarge(size: Int, limit: Int)
        case truncated(needed: Int)
        case trailingBytes(count: Int)
        case reservedAdditionalInfo(UInt8)
        case unexpectedBreak
        case indefiniteString
        case unsupportedTag
        case unsupportedSimpleValue(UInt8)
        case tooDeep(limit: Int)
        case stringTooLong(length: UInt64, limit: Int)
        case collectionTooLarge(count: UInt64, limit: Int)
        case invalidUTF8
        case nonTextMapKey(String)
        case keyTooLong(length: Int, limit: Int)
        case duplicateKey(String)
    }

    /// What went wrong.
    public let reason: Reason
    /// Offset of the offending byte in the input.
    public let offset: Int

    public init(_ reason: Reason, at offset: Int) {
        self.reason = reason
        self.offset = offset
    }

    public var description: String {
        let what: String = switch reason {
        case .empty: "empty input"
        case .inputTooLarge(let size, let limit): "input is \(size) bytes, limit is \(limit)"
        case .truncated(let needed): "truncated input: \(needed) more byte(s) needed"
        case .trailingBytes(let count): "\(count) trailing byte(s) after the data item"
        case .reservedAdditionalInfo(let info): "reserved additional information value \(info)"
        case .unexpectedBreak: "break (0xff) outside an indefinite-length container"
        case .indefiniteString: "indefinite-length strings are not supported"
        case .unsupportedTag: "tags (major type 6) are not supported"
        case .unsupportedSimpleValue(let value): "simple value or float (major type 7, info \(value)) is not supported"
        case .tooDeep(let limit): "nesting deeper than \(limit)"
        case .stringTooLong(let length, let limit): "string of \(length) bytes exceeds the limit of \(limit)"
        case .collectionTooLarge(let count, let limit): "collection of \(count) elements exceeds the limit of \(limit)"
        case .invalidUTF8: "text string is not valid UTF-8"
        case .nonTextMapKey(let type): "map key is a \(type), only text keys are allowed"
        case .keyTooLong(let length, let limit): "map key of \(length) bytes exceeds the limit of \(limit)"
        case .duplicateKey(let key): "duplicate map key \"\(key)\""
        }
        return "CBOR: \(what) (at byte \(offset))"
    }
}
