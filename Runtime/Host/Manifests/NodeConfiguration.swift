import CarrierCore
import CarrierDHT
import Foundation

/// The supernode's own configuration (`Manifests/node.toml`): where it listens, whom it joins
/// through, where its data lives, and where the admin endpoint listens. Plugin manifests are the
/// other `*.toml` files of the same folder.
///
/// ```toml
/// data_dir = "../.carrier/node"            # relative to this file
/// listen = ["0.0.0.0:39001", "[::]:39001"]
/// bootstrap = ["ID@HOST:PORT"]
/// allow_local = false
/// admin = "127.0.0.1:39080"
/// ```
public struct NodeConfiguration: Sendable, Equatable {
    public var file: String
    public var dataDirectory: String
    public var listen: [Endpoint]
    public var bootstrap: [NodeInfo]
    public var allowLocal: Bool
    /// The admin HTTP endpoint (loopback by default).
    public var admin: Endpoint

    public static let defaultListen = ["0.0.0.0:39001", "[::]:39001"]
    public static let defaultAdmin = "127.0.0.1:39080"

    /// Reads and validates the node configuration at `path`.
    public static func load(_ path: String) throws(ManifestError) -> NodeConfiguration {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ManifestError(file: path, field: "", "cannot read: \(error.localizedDescription)")
        }
        return try parse(text, file: path)
    }

    public static func parse(_ text: String, file: String) throws(ManifestError) -> NodeConfiguration {
        var table = try StrictTable.parse(text, file: file)
        let directory = URL(fileURLWithPath: file).deletingLastPathComponent()
        let dataDirectory = try table.string("data_dir") ?? ".carrier/node"
        var listen: [Endpoint] = []
        for (index, text) in (try table.strings("listen") ?? defaultListen).enumerated() {
            guard let endpoint = Endpoint(text) else { throw table.error("listen[\(index)]", "expected HOST:PORT or [IPv6]:PORT, found \"\(text)\"") }
            listen.append(endpoint)
        }
        guard !listen.isEmpty, Set(listen.map(\.family)).count == listen.count else {
            throw table.error("listen", "give one IPv4 and/or one IPv6 endpoint")
        }
        let allowLocal = try table.bool("allow_local") ?? false
        var bootstrap: [NodeInfo] = []
        for (index, text) in (try table.strings("bootstrap") ?? []).enumerated() {
            guard let node = NodeInfo(contact: text) else { throw table.error("bootstrap[\(index)]", "expected ID@HOST:PORT, found \"\(text)\"") }
            guard allowLocal || node.address.isGlobalUnicast else {
                throw table.error("bootstrap[\(index)]", "\(node.address) is a local address; set allow_local = true for a local network")
            }
            bootstrap.append(node)
        }
        let adminText = try table.string("admin") ?? defaultAdmin
        guard let admin = Endpoint(adminText) else { throw table.error("admin", "expected HOST:PORT, found \"\(adminText)\"") }
        try table.rejectUnknownKeys()
        let dataPath = dataDirectory.hasPrefix("/") ? dataDirectory : directory.appendingPathComponent(dataDirectory).standardizedFileURL.path
        return NodeConfiguration(file: file, dataDirectory: dataPath, listen: listen, bootstrap: bootstrap, allowLocal: allowLocal, admin: admin)
    }
}
