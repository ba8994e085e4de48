import ArgumentParser
import CarrierCore

/// `--data-dir`, shared by every command that reads or writes a node's state.
struct DataDirectoryOptions: ParsableArguments {
    @Option(name: .customLong("data-dir"), help: ArgumentHelp(
        "The node's data directory (identity key and state); created when missing.", valueName: "DIR"))
    var path = "./.carrier"

    /// Loads the node's key pair, creating it on first use; a refused key file ends the command.
    func loadIdentity() throws -> (keyPair: KeyPair, created: Bool) {
        do {
            return try IdentityFile.loadOrCreate(dataDirectory: path)
        } catch {
            throw CommandFailure(error.description)
        }
    }
}

/// An id given on the command line: Base58, 0x hex or did:boson:.
func parseId(_ text: String) throws -> Id {
    guard let id = Id(text) else { throw CommandFailure("\(text) is not an id (Base58, 0x hex or did:boson:)") }
    return id
}

/// A failure reported as one line on standard error, with exit status 1 unless it names its own
/// (`carrier dht` tells a missing item, a refusal and an unreachable network apart).
struct CommandFailure: Error, CustomStringConvertible {
    let description: String
    let exitCode: Int32
    init(_ description: String, exitCode: Int32 = 1) {
        self.description = description
        self.exitCode = exitCode
    }
}

extension ParsableCommand {
    /// Runs `body`, turning a `CommandFailure` into `error: <message>` on stderr and its exit status.
    func reportingFailures(_ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch let failure as CommandFailure {
            Console.error(failure.description)
            throw ExitCode(failure.exitCode)
        }
    }

    /// Runs `body`, turning a `CommandFailure` into `error: <message>` on stderr and its exit status.
    func reportingFailures(_ body: () throws -> Void) throws {
        do {
            try body()
        } catch let failure as CommandFailure {
            Console.error(failure.description)
            throw ExitCode(failure.exitCode)
        }
    }
}
