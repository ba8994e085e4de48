import ArgumentParser
import CarrierCore
import CarrierDHT
import Foundation

/// `carrier dht`: short-lived client commands that join through --bootstrap, and the simulation.
struct DHTCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dht",
        abstract: "Use the DHT: find nodes, put and get values, announce and find peers; simulate it at scale.",
        discussion: """
            Client commands join the network as a short-lived regular node (with a throw-away identity) \
            through --bootstrap; values and peer records are signed with the key in --data-dir.

            Exit status: 0 done; 2 not found (the closest nodes answered, none had it); 3 refused (the \
            closest nodes answered, none accepted the write); 4 unreachable (no node answered: the \
            network, not the item, is missing; try again); 1 any other error.
            """,
        subcommands: [FindNode.self, Put.self, Get.self, Announce.self, FindPeer.self, SimulateCommand.self])

    /// The exit statuses of the client commands (in `--help`).
    enum Exit {
        static let notFound: Int32 = 2
        static let refused: Int32 = 3
        static let unreachable: Int32 = 4
    }

    /// What every client command shares.
    struct ClientOptions: ParsableArguments {
        @OptionGroup var dataDirectory: DataDirectoryOptions
        @OptionGroup var network: NetworkOptions
        @Flag(help: "Print the result as JSON for scripts.") var json = false

        /// A temporary node joined through the bootstrap nodes; `body` runs with it, then it stops.
        func withNode<T>(_ body: (DHTNode) async throws -> T) async throws -> T {
            guard !network.bootstrapNodes.isEmpty else { throw CommandFailure("--bootstrap is required: a node to join through (ID@HOST:PORT)") }
            let scratch = NSTemporaryDirectory() + "carrier-client-\(UUID().uuidString)"
            defer { try? FileManager.default.removeItem(atPath: scratch) }
            let node = try await network.startNode(identity: KeyPair.random(), dataDirectory: scratch, defaultPort: 0)
            guard await !node.contacts.isEmpty else {
                await node.stop()
                throw CommandFailure("no bootstrap node answered (\(network.bootstrapNodes.joined(separator: ", ")))",
                                     exitCode: Exit.unreachable)
            }
            do {
                let result = try await body(node)
                await node.stop()
                return result
            } catch {
                await node.stop()
                throw error
            }
        }

        /// Prints the id of what was stored (and, to stderr or in JSON, on how many nodes); fails
        /// as refused when the nodes reached all refused it, as unreachable when none answered.
        func report(_ accepted: [Id: Bool], idKey: String, id: Id, what: String, verb: String) throws {
            let stored = accepted.values.filter { $0 }.count
            guard !accepted.isEmpty else { throw CommandFailure("no node could be reached to store \(what)", exitCode: Exit.unreachable) }
            guard stored > 0 else { throw CommandFailure("none of the \(accepted.count) closest nodes accepted \(what)", exitCode: Exit.refused) }
            if json {
                Console.line(JSONOutput.object([idKey: .string(id.base58), "storedOn": .number(Int64(stored))]))
            } else {
                Console.line(id.base58)
                Console.progress("\(verb) \(stored) of \(accepted.count) nodes")
            }
        }
    }

    struct FindNode: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "find-node", abstract: "Print the nodes closest to an id.")
        @Argument(help: "The target id.") var id: String
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await reportingFailures {
                let target = try parseId(id)
                let nodes = try await client.withNode { await $0.findNode(target) }
                if client.json {
                    Console.line(JSONOutput.array(nodes.map { JSONOutput.object(["id": .string($0.id.base58), "address": .string($0.address.description), "port": .number(Int64($0.port))]) }))
                } else {
                    for node in nodes { Console.line(node.description) }
                }
            }
        }
    }

    struct Put: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Store a value and print its id.",
            discussion: "Without --signed the value is immutable (its id is its SHA-256). With --signed it is a mutable value under the key in --data-dir; put again with a higher --seq to update it.")
        @Argument(help: "The value, as text.") var text: String
        @Flag(help: "Store a mutable value signed with this node's key.") var signed = false
        @Option(help: "Sequence number of a signed value.") var seq: Int32 = 0
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await reportingFailures {
                let data = Array(text.utf8)
                let value = signed ? Value.signed(by: try client.dataDirectory.loadIdentity().keyPair, sequenceNumber: seq, data: data) : Value.immutable(data)
                do throws(ProtocolError) { try value.validate() } catch { throw CommandFailure(error.reason) }
                let accepted = try await client.withNode { node in
                    do throws(ProtocolError) { return try await node.storeValue(value, persistent: false) } catch { throw CommandFailure(error.description) }
                }
                try client.report(accepted, idKey: "id", id: value.id, what: "the value", verb: "stored on")
            }
        }
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Find a value by id and print it.")
        @Argument(help: "The value id.") var id: String
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await reportingFailures {
                let target = try parseId(id)
                let value: Value
                switch try await client.withNode({ await $0.searchValue(target) }) {
                case .found(let found): value = found
                case .notFound: throw CommandFailure("value \(target) not found on the closest nodes", exitCode: Exit.notFound)
                case .unreachable: throw CommandFailure("value \(target) not looked for: no node could be reached", exitCode: Exit.unreachable)
                }
                let text = String(validating: value.data, as: UTF8.self)
                if client.json {
                    var fields: [String: JSONOutput] = ["id": .string(value.id.base58), "data": .string(Base64URL.encode(value.data)),
                                                        "seq": .number(Int64(value.sequenceNumber))]
                    if let text { fields["text"] = .string(text) }
                    if let key = value.publicKey { fields["owner"] = .string(key.base58) }
                    Console.line(JSONOutput.object(fields))
                } else {
                    Console.line(text ?? Base64URL.encode(value.data))
                }
            }
        }
    }

    struct Announce: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Announce that the peer with this node's key is reachable at an endpoint; prints the peer id.")
        @Option(help: ArgumentHelp("Where the peer is reachable.", valueName: "URI")) var endpoint: String
        @Option(help: "Sequence number (raise it to update the record).") var seq: Int32 = 0
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await reportingFailures {
                let owner = try client.dataDirectory.loadIdentity().keyPair
                let fingerprint = try PeerFingerprint.loadOrCreate(dataDirectory: client.dataDirectory.path)
                let peer = PeerInfo.create(owner: owner, fingerprint: fingerprint, sequenceNumber: seq, endpoint: endpoint)
                do throws(ProtocolError) { try peer.validate() } catch { throw CommandFailure(error.reason) }
                let accepted = try await client.withNode { node in
                    do throws(ProtocolError) { return try await node.announcePeer(peer, persistent: false) } catch { throw CommandFailure(error.description) }
                }
                try client.report(accepted, idKey: "peerId", id: peer.peerId, what: "the announcement", verb: "announced to")
            }
        }
    }

    struct FindPeer: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "find-peer", abstract: "Print the verified records of a peer id.")
        @Argument(help: "The peer id.") var id: String
        @Option(help: "Most records wanted.") var count = 8
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await reportingFailures {
                let target = try parseId(id)
                let peers: [PeerInfo]
                switch try await client.withNode({ await $0.searchPeers(target, count: count) }) {
                case .found(let found): peers = found
                case .notFound: throw CommandFailure("no records found for \(target) on the closest nodes", exitCode: Exit.notFound)
                case .unreachable: throw CommandFailure("records of \(target) not looked for: no node could be reached", exitCode: Exit.unreachable)
                }
                if client.json {
                    Console.line(JSONOutput.array(peers.map { peer in
                        JSONOutput.object(["peerId": .string(peer.peerId.base58), "endpoint": .string(peer.endpoint),
                                           "seq": .number(Int64(peer.sequenceNumber)), "node": peer.nodeId.map { .string($0.base58) } ?? .null])
                    }))
                } else {
                    for peer in peers { Console.line("\(peer.endpoint) (seq \(peer.sequenceNumber))") }
                }
            }
        }
    }
}
