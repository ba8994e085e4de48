import ArgumentParser
import CarrierCore

/// `carrier id`: prints the node id, creating the identity on first use.
struct IdCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "id",
        abstract: "Print this node's id (Base58), creating its key pair on first use.",
        discussion: "The key pair is stored in DIR/identity.key with mode 0600; a key file with looser permissions or corrupt contents is refused.")

    @OptionGroup var dataDirectory: DataDirectoryOptions

    @Flag(help: "Print {\"id\":…,\"hex\":…,\"created\":…} for scripts.")
    var json = false

    func run() throws {
        try reportingFailures {
            let (keyPair, created) = try dataDirectory.loadIdentity()
            let id = keyPair.publicKey
            print(json ? #"{"id":"\#(id.base58)","hex":"\#(id.hex)","created":\#(created)}"# : id.base58)
        }
    }
}
