/// Why a JSON text was refused, with the byte offset where the problem was found.
public struct JSONError: Error, Equatable, CustomStringConvertible {
    /// What went wrong.
    public let message: String
    /// Offset of the offending byte in the input.
    public let offset: Int

    public init(_ message: String, at offset: Int) {
        self.message = message
        self.offset = offset
    }

    public var description: String { "JSON: \(message) (at byte \(offset))" }
}
