/// A manifest or node configuration that cannot be used: which file, which field, and why.
public struct ManifestError: Error, Equatable, CustomStringConvertible {
    /// The file, as given.
    public let file: String
    /// The dotted path of the field (`service.type`), or empty for the file as a whole.
    public let field: String
    public let reason: String

    public init(file: String, field: String, _ reason: String) {
        self.file = file
        self.field = field
        self.reason = reason
    }

    public var description: String { field.isEmpty ? "\(file): \(reason)" : "\(file): \(field): \(reason)" }
}
