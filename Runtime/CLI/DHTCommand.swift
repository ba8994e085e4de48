import ArgumentParser

/// `carrier dht`: the Kademlia layer. Network commands arrive with the UDP transport (issue #3);
/// the simulation runs today.
struct DHTCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dht",
        abstract: "The DHT layer: simulate it at scale.",
        subcommands: [SimulateCommand.self])
}
