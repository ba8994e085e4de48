import Foundation

/// Everything in a manifests folder: `node.toml` and one manifest per plugin (every other `*.toml`),
/// checked together: ids are unique, dependencies exist, are enabled and have no cycle.
public struct ManifestSet: Sendable {
    public static let nodeFileName = "node.toml"

    public var node: NodeConfiguration
    /// The plugin manifests, in start order (each after the plugins it depends on).
    public var plugins: [PluginManifest]
    /// The plugin manifests that cannot be used: those that do not parse (in file order), then
    /// those that cannot run with the others (only `loadSkippingBroken` keeps them; `load` throws
    /// the first).
    public var rejected: [RejectedManifest]

    /// Loads `directory`. Every error names the file and the field; the first one is thrown.
    public static func load(directory: String) throws(ManifestError) -> ManifestSet {
        let set = try loadSkippingBroken(directory: directory)
        if let first = set.rejected.first { throw first.error }
        return set
    }

    /// Loads `directory`, keeping the plugin manifests that can be used in `plugins` and the others
    /// in `rejected` (a manifest that is broken, a duplicate id, a dependency that is missing,
    /// disabled, rejected or in a cycle), so one bad manifest costs only its own plugin. A missing
    /// or broken `node.toml` is thrown: without it there is no node to run.
    public static func loadSkippingBroken(directory: String) throws(ManifestError) -> ManifestSet {
        let files: [String]
        do {
            files = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".toml") }.sorted()
        } catch {
            throw ManifestError(file: directory, field: "", "cannot list the manifests folder: \(error.localizedDescription)")
        }
        let nodePath = (directory as NSString).appendingPathComponent(nodeFileName)
        guard files.contains(nodeFileName) else { throw ManifestError(file: nodePath, field: "", "missing: the node configuration is required") }
        let node = try NodeConfiguration.load(nodePath)
        var plugins: [PluginManifest] = [], rejected: [RejectedManifest] = []
        for file in files where file != nodeFileName {
            let path = (directory as NSString).appendingPathComponent(file)
            do { plugins.append(try PluginManifest.load(path)) } catch { rejected.append(RejectedManifest(file: path, error: error)) }
        }
        while true {
            do {
                return ManifestSet(node: node, plugins: try startOrder(plugins, rejected: rejected), rejected: rejected)
            } catch {
                // Every error of startOrder names one of `plugins`.
                guard let index = plugins.firstIndex(where: { $0.file == error.file }) else { throw error }
                rejected.append(RejectedManifest(plugins.remove(at: index), error: error))
            }
        }
    }

    /// The enabled manifests in dependency order (ties by id); disabled ones last, in id order.
    /// The error names the manifest at fault; a dependency on one of `rejected` is a fault too.
    static func startOrder(_ manifests: [PluginManifest], rejected: [RejectedManifest] = []) throws(ManifestError) -> [PluginManifest] {
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
                    if let failed = rejected.first(where: { $0.id == dependency }) {
                        throw ManifestError(file: manifest.file, field: "depends_on[\(index)]", "\"\(dependency)\" cannot run: \(failed.error)")
                    }
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
