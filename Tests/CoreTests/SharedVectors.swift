import Foundation

/// Locates `../shared/vectors/boson-messages.json` beside the clone (or `$CARRIER_SHARED_DIR`).
/// Tests that need it are skipped, with this reason, when it is absent.
enum SharedVectors {
    struct Vector: Decodable {
        let `case`: String
        let json: String
        let cbor: String
    }

    private struct File: Decodable { let vectors: [Vector] }

    static var sharedDirectory: URL {
        if let override = ProcessInfo.processInfo.environment["CARRIER_SHARED_DIR"] {
            return URL(fileURLWithPath: override)
        }
        // Tests/CoreTests/SharedVectors.swift -> repository root -> ../shared
        return URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("shared")
    }

    static var messagesFile: URL { sharedDirectory.appendingPathComponent("vectors/boson-messages.json") }

    static var available: Bool { FileManager.default.fileExists(atPath: messagesFile.path) }

    static let skipReason: Comment = "shared vectors not found at ../shared/vectors/boson-messages.json (set CARRIER_SHARED_DIR)"

    static func load() throws -> [Vector] {
        try JSONDecoder().decode(File.self, from: Data(contentsOf: messagesFile)).vectors
    }
}

import Testing
