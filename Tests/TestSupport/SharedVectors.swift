import Foundation
import Testing

/// Locates `../shared/vectors/boson-messages.json` beside the clone (or `$CARRIER_SHARED_DIR`).
/// Tests that need it are skipped, with this reason, when it is absent.
public enum SharedVectors {
    /// One message in its two forms.
    public struct Vector: Decodable, Sendable {
        public let `case`: String
        public let json: String
        public let cbor: String
    }

    private struct File: Decodable { let vectors: [Vector] }

    public static var sharedDirectory: URL {
        if let override = ProcessInfo.processInfo.environment["CARRIER_SHARED_DIR"] {
            return URL(fileURLWithPath: override)
        }
        // Tests/TestSupport/SharedVectors.swift -> repository root -> ../shared
        return URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("shared")
    }

    public static var messagesFile: URL { sharedDirectory.appendingPathComponent("vectors/boson-messages.json") }

    public static var available: Bool { FileManager.default.fileExists(atPath: messagesFile.path) }

    public static let skipReason: Comment = "shared vectors not found at ../shared/vectors/boson-messages.json (set CARRIER_SHARED_DIR)"

    public static func load() throws -> [Vector] {
        try JSONDecoder().decode(File.self, from: Data(contentsOf: messagesFile)).vectors
    }
}
