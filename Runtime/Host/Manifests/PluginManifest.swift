import Foundation

/// One plugin's manifest (`Manifests/NAME.toml`): what to load, how, and what it offers. The schema
/// is documented in `Manifests/README.md`; every field is checked, unknown keys are errors.
public struct PluginManifest: Sendable, Equatable {
    /// How the plugin runs.
    public enum Isolation: String, Sendable {
        /// Loaded into the host process: fastest, but a crash takes the host down.
        case inProcess = "in-process"
        /// Loaded by `carrier plugin-runner` in a child process, bridged over a Unix socket.
        case process
    }

    /// The service a plugin offers, announced on the DHT while it runs.
    public struct Service: Sendable, Equatable {
        /// The service type clients look for, e.g. `proxy` or `org.example.hello`.
        public var type: String
        /// The endpoint URI; `{host}` and `{node_id}` are filled in by the host.
        public var endpoint: String
    }

    /// The file it was read from.
    public var file: String
    public var id: String
    public var version: String
    /// Absolute path of the shared library (the manifest may give it relative to itself).
    public var library: String
    /// Lowercase hex SHA-256 the library must have; nil until pinned (`carrier plugins pin`).
    public var sha256: String?
    public var abiMajor: Int
    public var enabled: Bool
    public var isolation: Isolation
    /// Ids of plugins that must be started before this one.
    public var dependsOn: [String]
    public var service: Service?
    /// The `[config]` table as a JSON object text, handed to the plugin's `create`.
    public var configJSON: String
    public var billing: BillingSection

    /// Reads and validates the manifest at `path`.
    public static func load(_ path: String) throws(ManifestError) -> PluginManifest {
        try parse(StrictTable.text(of: path), file: path)
    }

    /// Validates manifest `text`; a relative `library` is resolved against the folder of `file`.
    public static func parse(_ text: String, file: String) throws(ManifestError) -> PluginManifest {
        var table = try StrictTable.parse(text, file: file)
        let id = try table.requiredString("id")
        guard Self.isValidId(id) else {
            throw table.error("id", "\"\(id)\" is not a plugin id (lowercase letters, digits, '.', '-' and '_', 1 to 64 of them, starting with a letter or digit)")
        }
        let version = try table.requiredString("version")
        guard !version.isEmpty, version.count <= 64 else { throw table.error("version", "must be 1 to 64 characters") }
        let library = try table.requiredString("library")
        guard !library.isEmpty else { throw table.error("library", "must name the plugin's shared library") }
        let sha256 = try table.string("sha256")
        if let sha256, sha256.count != 64 || !sha256.allSatisfy({ $0.isHexDigit && !$0.isUppercase }) {
            throw table.error("sha256", "expected 64 lowercase hex digits (run `carrier plugins pin \(file)`)")
        }
        let abi = try table.integer("abi") ?? 1
        guard abi == 1 else { throw table.error("abi", "this host speaks ABI major 1, not \(abi)") }
        let enabled = try table.bool("enabled") ?? true
        let isolationText = try table.string("isolation") ?? Isolation.inProcess.rawValue
        guard let isolation = Isolation(rawValue: isolationText) else {
            throw table.error("isolation", "expected \"in-process\" or \"process\", found \"\(isolationText)\"")
        }
        let dependsOn = try table.strings("depends_on") ?? []
        var service: Service?
        if var section = try table.table("service") {
            let type = try section.requiredString("type")
            guard Self.isValidId(type) else { throw section.error("type", "\"\(type)\" is not a service type (same characters as an id)") }
            let endpoint = try section.requiredString("endpoint")
            guard endpoint.contains("://") else { throw section.error("endpoint", "expected a URI such as tcp://{host}:39100") }
            try section.rejectUnknownKeys()
            service = Service(type: type, endpoint: endpoint)
        }
        let configJSON = try table.json("config") ?? "{}"
        let billing = try table.table("billing").map { section throws(ManifestError) in try BillingSection(section) } ?? BillingSection()
        try table.rejectUnknownKeys()
        let directory = URL(fileURLWithPath: file).deletingLastPathComponent()
        let libraryPath = library.hasPrefix("/") ? library : directory.appendingPathComponent(library).standardizedFileURL.path
        return PluginManifest(file: file, id: id, version: version, library: libraryPath, sha256: sha256, abiMajor: abi,
                              enabled: enabled, isolation: isolation, dependsOn: dependsOn, service: service,
                              configJSON: configJSON, billing: billing)
    }

    /// Plugin ids and service types: 1 to 64 of `[a-z0-9._-]`, starting with a letter or digit
    /// (an id names a folder: `.` and `..` must not pass).
    static func isValidId(_ text: String) -> Bool {
        guard let first = text.utf8.first, (0x61...0x7A).contains(first) || (0x30...0x39).contains(first) else { return false }
        return (1...64).contains(text.utf8.count)
            && text.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2E || $0 == 0x2D || $0 == 0x5F }
    }
}
