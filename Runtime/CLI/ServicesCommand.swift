import ArgumentParser
import CarrierCore
import CarrierDHT
import CarrierHost

/// `carrier services`: find the supernodes that offer a service.
struct ServicesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "services",
        abstract: "Discover services that supernodes announce on the DHT.",
        subcommands: [Find.self])

    /// `carrier services find TYPE`
    struct Find: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the verified providers of a service type.",
            discussion: """
                Joins through --bootstrap as a short-lived regular node, looks up the service type's \
                peer id and prints each provider whose record verifies: node id, endpoint, plugin \
                and version, prices. Records whose signatures fail are dropped and counted.

                Example: carrier services find hello --bootstrap ID@127.0.0.1:39001 --allow-local
                """)

        @Argument(help: ArgumentHelp("The service type, e.g. hello or proxy.", valueName: "TYPE")) var type: String
        @OptionGroup var client: DHTCommand.ClientOptions

        func run() async throws {
            try await reportingFailures {
                let (offers, rejected) = try await client.withNode { node in await ServiceRegistry.find(type: type, through: node) }
                if client.json {
                    Console.line(JSONOutput.object([
                        "type": .string(type), "rejected": .number(Int64(rejected)),
                        "providers": .list(offers.map { offer in
                            var fields: [String: JSONOutput] = ["node": .string(offer.node.base58), "endpoint": .string(offer.endpoint),
                                                                "plugin": .string(offer.pluginId), "version": .string(offer.version),
                                                                "prices": offer.priceSummary.map { .string($0) } ?? .null]
                            if let prices = offer.prices {
                                fields["currency"] = .string(prices.currency)
                                fields["meters"] = .map(prices.meters.mapValues { price in
                                    .map(["free": .number(Int64(clamping: price.freeUnits)), "micro_price": .number(Int64(clamping: price.microPrice)),
                                          "period_seconds": .number(Int64(clamping: price.periodSeconds))])
                                })
                            }
                            return .map(fields)
                        }),
                    ]))
                    return
                }
                guard !offers.isEmpty else { throw CommandFailure("no provider of \"\(type)\" found" + (rejected > 0 ? " (\(rejected) records failed verification)" : "")) }
                for offer in offers {
                    Console.line("\(offer.node.base58)  \(offer.endpoint)  \(offer.pluginId) \(offer.version)" + (offer.priceSummary.map { "  \($0)" } ?? ""))
                }
                if rejected > 0 { Console.progress("\(rejected) records failed verification and were dropped") }
            }
        }
    }
}
