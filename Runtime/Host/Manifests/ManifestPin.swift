import Foundation

/// `carrier plugins pin`: writes the SHA-256 of a manifest's library into the manifest, so the
/// operator pins what is loaded without editing hashes by hand. Only the `sha256` line changes
/// (or is added after `library`); comments and layout are kept.
public enum ManifestPin {
    /// Pins the library of the manifest at `path`; returns the hash written.
    @discardableResult
    public static func pin(_ path: String) throws -> String {
        let text = try StrictTable.text(of: path)
        let manifest = try PluginManifest.parse(text, file: path)
        guard let hash = PluginLibrary.sha256(ofFile: manifest.library) else { throw PluginLoadError.libraryMissing(path: manifest.library) }
        let updated = pinned(text, hash: hash)
        _ = try PluginManifest.parse(updated, file: path)  // never write a manifest that would not load
        try Data(updated.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        return hash
    }

    /// `text` with its top-level `sha256` set to `hash`.
    static func pinned(_ text: String, hash: String) -> String {
        var lines = text.components(separatedBy: "\n")
        let topLevelEnd = lines.firstIndex { $0.trimmingCharacters(in: .whitespaces).hasPrefix("[") } ?? lines.count
        let line = "sha256 = \"\(hash)\""
        if let existing = lines[..<topLevelEnd].firstIndex(where: { key(of: $0) == "sha256" }) {
            lines[existing] = line
        } else if let library = lines[..<topLevelEnd].firstIndex(where: { key(of: $0) == "library" }) {
            lines.insert(line, at: library + 1)
        } else {
            lines.insert(line, at: topLevelEnd)
        }
        return lines.joined(separator: "\n")
    }

    private static func key(of line: String) -> String? {
        guard let equals = line.firstIndex(of: "=") else { return nil }
        return line[..<equals].trimmingCharacters(in: .whitespaces)
    }
}
