import CarrierCore
import Foundation
import Testing

/// The node key in its data directory: created once with 0600, reloaded unchanged, refused when
/// exposed or corrupt.
struct IdentityFileTests {
    private func temporaryDirectory() -> String {
        NSTemporaryDirectory() + "carrier-identity-\(UUID().uuidString)/nested/data"
    }

    private func mode(_ path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as! NSNumber).intValue
    }

    @Test func createdOnceWithMode0600AndReloaded() throws {
        let directory = temporaryDirectory()
        let (first, created) = try IdentityFile.loadOrCreate(dataDirectory: directory)
        #expect(created)
        #expect(try mode(directory + "/identity.key") == 0o600)
        #expect(try mode(directory) == 0o700)
        let (second, createdAgain) = try IdentityFile.loadOrCreate(dataDirectory: directory)
        #expect(!createdAgain)
        #expect(second.publicKey == first.publicKey)
        #expect(second.secretKey == first.secretKey)
    }

    @Test func exposedKeyFileIsRefused() throws {
        let directory = temporaryDirectory()
        _ = try IdentityFile.loadOrCreate(dataDirectory: directory)
        chmod(directory + "/identity.key", 0o644)
        #expect(throws: IdentityFileError.insecurePermissions(path: directory + "/identity.key", mode: 0o644)) {
            try IdentityFile.loadOrCreate(dataDirectory: directory)
        }
    }

    @Test func corruptKeyFilesAreRefusedNotReplaced() throws {
        let directory = temporaryDirectory()
        let (original, _) = try IdentityFile.loadOrCreate(dataDirectory: directory)
        let path = directory + "/identity.key"
        var bytes = original.secretKey
        bytes[50] ^= 0xFF
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        chmod(path, 0o600)
        #expect { try IdentityFile.loadOrCreate(dataDirectory: directory) } throws: {
            if case .corrupt = $0 as? IdentityFileError { return true }
            return false
        }
        try Data(bytes.prefix(10)).write(to: URL(fileURLWithPath: path))
        #expect { try IdentityFile.loadOrCreate(dataDirectory: directory) } throws: {
            if case .corrupt = $0 as? IdentityFileError { return true }
            return false
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)).count == 10, "the bad file is left for the operator")
    }

    @Test func aFileWhereTheDirectoryShouldBeIsRefused() throws {
        let path = NSTemporaryDirectory() + "carrier-notdir-\(UUID().uuidString)"
        _ = FileManager.default.createFile(atPath: path, contents: Data([1]))
        #expect(throws: IdentityFileError.self) { try IdentityFile.loadOrCreate(dataDirectory: path) }
    }
}
