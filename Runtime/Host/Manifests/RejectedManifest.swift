import Foundation

/// A plugin manifest that cannot be used, and why. At start its plugin alone fails (listed with
/// this error); the node and the other plugins run.
public struct RejectedManifest: Sendable, Equatable {
    /// The file.
    public let file: String
    /// The id the file gives, if it can be read; else the file's name without `.toml`.
    public let id: String
    /// The isolation the file asks for, if it can be read; else in-process (the default).
    public let isolation: PluginManifest.Isolation
    public let error: ManifestError

    /// A manifest that did not parse: its id and isolation read as far as the file allows.
    init(file: String, error: ManifestError) {
        var table = (try? StrictTable.text(of: file)).flatMap { try? StrictTable.parse($0, file: file) }
        let id = (try? table?.string("id")).flatMap { PluginManifest.isValidId($0) ? $0 : nil }
        let isolation = (try? table?.string("isolation")).flatMap(PluginManifest.Isolation.init(rawValue:))
        self.file = file
        self.id = id ?? URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent
        self.isolation = isolation ?? .inProcess
        self.error = error
    }

    /// A manifest that parsed but cannot run with the others (a duplicate id, a dependency).
    init(_ manifest: PluginManifest, error: ManifestError) {
        file = manifest.file
        id = manifest.id
        isolation = manifest.isolation
        self.error = error
    }
}
