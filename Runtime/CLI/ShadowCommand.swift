import ArgumentParser
import CarrierCore
import CarrierDHT
import CarrierHost
import CarrierShadow
import Foundation
import NIOCore
import NIOPosix

/// `carrier shadow`: expose a service behind NAT through a Shadow supernode found on the DHT.
struct ShadowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shadow",
        abstract: "Expose a local service to the internet through a Shadow supernode (docs/shadow.md).",
        subcommands: [Expose.self, Connect.self])

    /// `carrier shadow expose TARGET`
    struct Expose: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Relay public connections (or datagrams) to a local TCP (or UDP) service until Ctrl-C.",
            discussion: """
                Joins the DHT through --bootstrap with this node's key (--data-dir), finds the \
                supernodes offering `shadow`, asks each (up to 8) how full it is, and picks \
                one with ports left, the cheapest by its service record's prices, then the fastest \
                to answer weighed by its load (or --supernode), and keeps TARGET exposed there: the public endpoint is printed on stdout (one line, \
                or JSON with --json) and announced as a peer record signed by this node, so others \
                find it by this node's id. Connections and bytes are shown on stderr. It reconnects \
                by itself after a network drop or a supernode restart (same endpoint), and moves to \
                another supernode when one refuses or stays unreachable.

                A UDP service (udp://HOST:PORT, or --udp) gets a public UDP port: each outside \
                sender reaches the service from a local port of its own, and the service's answers \
                go back to that sender.

                --allow and --deny (repeatable, CIDR ranges such as 203.0.113.0/24 or \
                2001:db8::/32) set which sources the public port admits; the supernode refuses \
                the others before they reach you (and its operator may deny more).

                Examples:
                  carrier shadow expose tcp://127.0.0.1:8080 --name web --bootstrap ID@198.51.100.7:39001
                  carrier shadow expose udp://127.0.0.1:5353 --name dns --bootstrap ID@198.51.100.7:39001
                  carrier shadow expose tcp://127.0.0.1:22 --name ssh --allow 203.0.113.0/24 --bootstrap ID@198.51.100.7:39001
                """)

        @Argument(help: ArgumentHelp("The local service, tcp://HOST:PORT or udp://HOST:PORT.", valueName: "TARGET")) var target: String
        @Flag(help: "TARGET is a UDP service (the same as udp://HOST:PORT).") var udp = false
        @Option(help: ArgumentHelp("The mapping's name ([a-z0-9-], at most 32).", valueName: "NAME")) var name = "web"
        @Option(help: ArgumentHelp("The supernode to use (its node id), or auto.", valueName: "ID|auto")) var supernode = "auto"
        @Option(help: ArgumentHelp("Admit only sources in this range (repeatable).", valueName: "CIDR")) var allow: [String] = []
        @Option(help: ArgumentHelp("Refuse sources in this range (repeatable).", valueName: "CIDR")) var deny: [String] = []
        @Option(help: ArgumentHelp("Data connections to keep ready, so a new public connection skips a handshake (0-8).",
                                   valueName: "N")) var spares = 0
        @OptionGroup var client: DHTCommand.ClientOptions

        func run() async throws {
            try await reportingFailures {
                guard MappingRequest.isValidName(name) else { throw CommandFailure("--name \(name): 1 to 32 of [a-z0-9-]") }
                guard (0...ShadowClient.maxSpares).contains(spares) else { throw CommandFailure("--spares \(spares): 0 to \(ShadowClient.maxSpares)") }
                guard var service = ShadowService(name: name, target: target, transport: udp ? .udp : .tcp),
                      !(udp && target.hasPrefix("tcp://")) else { throw CommandFailure("\(target) is not tcp://HOST:PORT or udp://HOST:PORT") }
                for (option, texts) in [("--allow", allow), ("--deny", deny)] {
                    guard texts.count <= SourceRange.maxPerList else { throw CommandFailure("\(option): at most \(SourceRange.maxPerList) ranges") }
                }
                do {
                    service.allow = try allow.map { try SourceRange($0) }
                    service.deny = try deny.map { try SourceRange($0) }
                } catch { throw CommandFailure("--allow/--deny: \(error)") }
                let wanted = supernode == "auto" ? nil : try parseId(supernode)
                let identity = try client.dataDirectory.loadIdentity().keyPair
                guard !client.network.bootstrapNodes.isEmpty else { throw CommandFailure("--bootstrap is required: a node to join through (ID@HOST:PORT)") }
                StopSignal.install()
                let node = try await client.network.startNode(identity: identity, dataDirectory: client.dataDirectory.path, defaultPort: 0)
                let exposer = ShadowExposer(identity: identity, node: node, service: service, wanted: wanted, spares: spares, json: client.json)
                let running = Task { await exposer.run() }
                _ = await StopSignal.wait()
                running.cancel()
                _ = await running.value
                await node.stop()
            }
        }
    }
}

extension ShadowCommand {
    /// `carrier shadow connect PEER-ID --local HOST:PORT`
    struct Connect: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Reach a service someone exposed, by their node id, on a local port until Ctrl-C.",
            discussion: """
                Joins the DHT through --bootstrap, looks up the peer records PEER-ID signed for \
                mapping --name, and forwards every connection to --local to that public endpoint. \
                No address is needed: when the service moves (a new supernode), a failing \
                connection looks the endpoint up again. Exits 2 when PEER-ID exposes nothing by \
                that name, 4 when no DHT node answers.

                Example: carrier shadow connect 5vDc...Qh --name web --local 127.0.0.1:9000 --bootstrap ID@198.51.100.7:39001
                """)

        @Argument(help: ArgumentHelp("The exposing node's id.", valueName: "PEER-ID")) var peer: String
        @Option(help: ArgumentHelp("The mapping's name.", valueName: "NAME")) var name = "web"
        @Option(help: ArgumentHelp("Where to listen locally.", valueName: "HOST:PORT")) var local = "127.0.0.1:9000"
        @OptionGroup var client: DHTCommand.ClientOptions

        func run() async throws {
            try await reportingFailures {
                let peerId = try parseId(peer)
                guard let listen = ShadowService(name: name, target: local) else { throw CommandFailure("--local \(local) is not HOST:PORT") }
                guard !client.network.bootstrapNodes.isEmpty else { throw CommandFailure("--bootstrap is required: a node to join through (ID@HOST:PORT)") }
                StopSignal.install()
                let scratch = NSTemporaryDirectory() + "carrier-connect-\(UUID().uuidString)"
                defer { try? FileManager.default.removeItem(atPath: scratch) }
                let node = try await client.network.startNode(identity: KeyPair.random(), dataDirectory: scratch, defaultPort: 0)
                let connector = ShadowConnector(node: node, peer: peerId, name: name)
                do {
                    let target = try await connector.resolve()
                    let server = try await connector.listen(host: listen.targetHost, port: listen.targetPort)
                    let port = server.localAddress?.port ?? listen.targetPort
                    if client.json {
                        Console.line(JSONOutput.object(["local": .string("\(listen.targetHost):\(port)"), "endpoint": .string("tcp://\(target.host):\(target.port)")]))
                    } else {
                        Console.line("\(listen.targetHost):\(port)")
                        Console.progress("forwarding \(listen.targetHost):\(port) to \(peerId.base58)'s \(name) at tcp://\(target.host):\(target.port)")
                    }
                    _ = await StopSignal.wait()
                    try? await server.close()
                } catch {
                    await node.stop()
                    throw error
                }
                await node.stop()
            }
        }
    }
}

/// The loop behind `carrier shadow expose`: find providers, expose through the best, announce the
/// endpoint, and move on to the next provider when one gives up.
struct ShadowExposer: Sendable {
    let identity: KeyPair
    let node: DHTNode
    let service: ShadowService
    let wanted: Id?
    /// Spare data connections to keep (`ShadowClient`'s `spares`).
    let spares: Int
    let json: Bool

    func run() async {
        let group = MultiThreadedEventLoopGroup.singleton
        var avoided = Set<Id>()
        while !Task.isCancelled {
            let candidates = await providers(avoiding: avoided)
            guard let best = candidates.first else {
                if !avoided.isEmpty { avoided = [] }
                Console.progress("no reachable shadow supernode found; looking again in 5 s")
                try? await Task.sleep(for: .seconds(5))
                continue
            }
            let chosen = best.probe.supernode
            Console.progress("exposing \(service.name) through \(chosen.id.base58) at \(chosen.host):\(chosen.port)"
                             + " (answered in \(Self.milliseconds(best.probe.roundTrip)) ms, \(best.probe.load / 10) % of its ports held"
                             + (best.price.map { ", \(Self.money($0)) per GB and hour" } ?? "") + ")")
            let client = ShadowClient(identity: identity, supernode: chosen, services: [service], group: group, giveUpAfter: 3, spares: spares)
            let announcer = PeerAnnouncer(identity: identity, node: node, name: service.name, transport: service.transport)
            let ended = await client.run { event in report(event, client: client, announcer: announcer) }
            announcer.stop()
            switch ended {
            case .cancelled: return
            case .refused(let reason), .unreachable(let reason):
                Console.progress("\(chosen.id.base58) gave up (\(reason)); trying another supernode")
                avoided.insert(chosen.id)
            }
        }
    }

    private func report(_ event: ShadowClient.Event, client: ShadowClient, announcer: PeerAnnouncer) {
        switch event {
        case .exposed(let endpoints):
            for endpoint in endpoints {
                if json {
                    var fields: [String: JSONOutput] = ["name": .string(endpoint.name), "endpoint": .string(endpoint.description),
                                                        "peer": .string(identity.publicKey.base58)]
                    if let http = endpoint.http { fields["http"] = .string(http) }
                    if let https = endpoint.https { fields["https"] = .string(https) }
                    Console.line(JSONOutput.object(fields))
                } else {
                    Console.line(endpoint.description)
                    if let http = endpoint.http { Console.line(http) }
                    if let https = endpoint.https { Console.line(https) }
                }
                announcer.announce(endpoint: endpoint.description)
            }
        case .disconnected(let reason, let retryIn):
            Console.progress("disconnected (\(reason)); retrying in \(String(format: "%.1f", Double(retryIn.components.seconds) + Double(retryIn.components.attoseconds) / 1e18)) s")
        case .streamOpened(let mapping, let source):
            let figures = client.statistics
            Console.progress("\(mapping): connection from \(source) (\(figures.openStreams) open, \(figures.bytesToPublic + figures.bytesFromPublic) bytes relayed)")
        case .streamClosed:
            break
        }
    }

    /// The `shadow` providers in the order to try them (`SupernodeRanking`), each of those found
    /// (up to 8) asked how full it is, all at once (`SupernodeProbe`; those that do not answer
    /// within 3 s are left out).
    private func providers(avoiding avoided: Set<Id>) async -> [SupernodeRanking.Candidate] {
        let (offers, _) = await ServiceRegistry.find(type: "shadow", through: node)
        let usable = offers.compactMap { offer -> (ShadowSupernode, SupernodeRanking.Price?)? in
            guard wanted == nil || offer.node == wanted, !avoided.contains(offer.node),
                  let (host, port) = Self.hostAndPort(offer.endpoint) else { return nil }
            return (ShadowSupernode(id: offer.node, host: host, port: port), SupernodeRanking.price(of: offer.prices))
        }
        let identity = self.identity
        let answered = await withTaskGroup(of: SupernodeRanking.Candidate?.self) { group in
            for (supernode, price) in usable {
                group.addTask {
                    guard let probe = try? await SupernodeProbe.probe(supernode, identity: identity, group: MultiThreadedEventLoopGroup.singleton)
                    else { return nil }
                    return SupernodeRanking.Candidate(probe: probe, price: price)
                }
            }
            var answered: [SupernodeRanking.Candidate] = []
            for await candidate in group { if let candidate { answered.append(candidate) } }
            return answered
        }
        return SupernodeRanking.ranked(answered)
    }

    static func milliseconds(_ duration: Duration) -> String {
        String(format: "%.1f", duration.seconds * 1000)
    }

    /// "0.5 credit": micro-units as a decimal.
    static func money(_ price: SupernodeRanking.Price) -> String {
        price.micro == .max ? "more than \(Int64.max / 1_000_000) \(price.currency)" : "\(Money.text(Int64(clamping: price.micro))) \(price.currency)"
    }

    /// `tcp://HOST:PORT` (HOST may be a bracketed IPv6 address).
    static func hostAndPort(_ endpoint: String) -> (String, Int)? {
        guard let service = ShadowService(name: "x", target: endpoint), endpoint.hasPrefix("tcp://") else { return nil }
        return (service.targetHost, service.targetPort)
    }
}
