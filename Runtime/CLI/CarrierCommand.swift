import ArgumentParser

/// The `carrier` tool: `carrier <noun> <verb>`.
@main
struct CarrierCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "carrier",
        abstract: "Carrier supernode runtime for the Boson v3.1 DHT.",
        discussion: """
            A node's state (its identity key, later its routing table and storage) lives in a data \
            directory, ./.carrier unless --data-dir says otherwise; it is created on first use.

            Examples:
              carrier id                          print this node's id (creating it on first run)
              carrier run --data-dir /var/lib/carrier
              carrier testnet --nodes 20            a local network; prints a bootstrap line
              carrier dht put hello --bootstrap ID@127.0.0.1:39001 --allow-local
              carrier wire decode bf6179182161740a61761a4f520001ff
              carrier wire encode '{"y":33,"t":10,"v":1330774017}'
              carrier dht simulate --nodes 10000  measure lookups on a simulated network
            """,
        subcommands: [IdCommand.self, RunCommand.self, DHTCommand.self, ServicesCommand.self, ShadowCommand.self, PluginsCommand.self, BillingCommand.self, TestnetCommand.self, WireCommand.self,
                      PluginRunnerCommand.self]
    )
}
