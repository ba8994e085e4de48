import Foundation

/// Everything in a manifests folder: `node.toml` and one manifest per plugin (every other `*.toml`),
/// checked together: ids are unique, dependencies exist, are enabled and have no cycle.
public struct ManifestSet: Sendable {
    public static let nodeFileName = "node.toml"

    public var node: NodeConfiguration
    /// The plugin manifests, in start order (each after the plugins it depends on).
    public var plugins: [PluginManifest]

    /// Loads `directory`. Every error names the file and the field.
    public static func load(directory: String) throws(ManifestError) -> ManifestSet {
        let files: [String]
        do {
            files = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".toml") }.sorted()
        } catch {
            throw ManifestError(file: directory, field: "", "cannot list the manifests folder: \(error.localizedDescription)")
        }
        let nodePath = (directory as NSString).appendingPathComponent(nodeFileName)
        guard files.contains(nodeFileName) else { throw ManifestError(file: nodePath, field: "", "missing: the node configuration is required") }
        let node = try NodeConfiguration.load(nodePath)
        var plugins: [PluginManifest] = []
        for file in files where file != nodeFileName {
            plugins.append(try PluginManifest.load((directory as NSString).appendingPathComponent(file)))
        }
        return ManifestSet(node: node, plugins: try startOrder(plugins))
    }

    /// The enabled manifests in dependency order (ties by id); disabled ones last, in id order.
    static func startOrder(_ manifests: [PluginManifest]) throws(ManifestError) -> [PluginManifest] {
        var byId: [String: PluginManifest] = [:]
        for manifest in manifests {
            if let other = byId[manifest.id] {
                throw ManifestError(file: manifest.file, field: "id", "\"\(manifest.id)\" is also the id in \(other.file)")
            }
            byId[manifest.id] = manifest
        }
        for manifest in manifests where manifest.enabled {
            for (index, dependency) in manifest.dependsOn.enumerated() {
                guard let target = byId[dependency] else {
                    throw ManifestError(file: manifest.file, field: "depends_on[\(index)]", "no manifest has the id \"\(dependency)\"")
                }
                guard target.enabled else {
                    throw ManifestError(file: manifest.file, field: "depends_on[\(index)]", "\"\(dependency)\" is disabled (\(target.file))")
                }
            }
        }
        var ordered: [PluginManifest] = []
        var placed: Set<String> = []
        var remaining = manifests.filter(\.enabled).sorted { $0.id < $1.id }
        while !remaining.isEmpty {
            guard let next = remaining.firstIndex(where: { $0.dependsOn.allSatisfy(placed.contains) }) else {
                let cycle = remaining.map(\.id).joined(separator: ", ")
                throw ManifestError(file: remaining[0].file, field: "depends_on", "dependency cycle among \(cycle)")
            }
            placed.insert(remaining[next].id)
            ordered.append(remaining.remove(at: next))
        }
        return ordered + manifests.filter { !$0.enabled }.sorted { $0.id < $1.id }
    }
}
