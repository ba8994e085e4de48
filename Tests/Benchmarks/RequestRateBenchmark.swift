#if os(Linux)
import CarrierCore
import CarrierDHT
import Foundation
import Glibc
import Synchronization

/// One node's request-handling rate: encrypted PING and FIND_NODE requests answered per second by a
/// `DHTNode` on one core, with a trivial UDP echo measured in the same run as the limit.
///
/// Each server is a child process (`carrier-bench --serve MODE`) started through `taskset` on one
/// core. The limit is an echo that answers every datagram with its own bytes over the same
/// `UDPTransport` the node uses, so the gap between the two is the DHT's own work (envelope open,
/// CBOR decode, handler, CBOR encode, seal); an echo on a plain POSIX socket shows what the
/// transport itself costs, and that the load generator has room to spare.
///
/// The load generator is one thread of this process pinned to another core: 16 client identities,
/// each with a connected POSIX socket, keep `inFlightPerClient` requests outstanding and send the
/// next as soon as an answer comes back. Requests are sealed before the clock starts; each client
/// cycles through 2,048 of them, so a datagram comes round again 2,047 datagrams after its last use,
/// far outside the node's 32-nonce replay window: the node opens and answers every one in full (a
/// refused replay would go unanswered and count as lost).
///
/// The node's routing table is filled the way the protocol fills it: 128 identities (16 for each of
/// the 8 buckets farthest from the node, as a node in a network of a few thousand has; the 16
/// clients among them) each send a PING and answer the PING the node sends back.
enum RequestRateBenchmark {
    /// The hidden first argument that makes `carrier-bench` a server child instead of a benchmark run.
    static let serveFlag = "--serve"

    /// Client identities, each with a socket (an endpoint) of its own.
    static let clientCount = 16
    /// Requests each client keeps outstanding: 128 in all, well within the sockets' buffers.
    static let inFlightPerClient = 8
    /// Sealed requests each client cycles through.
    static let requestsPerClient = 2048
    /// Buckets of the node's routing table filled, with `bucketSize` entries each.
    static let filledBuckets = 8
    static let bucketSize = 16
    /// Every this many answers, one is kept and checked after the run.
    static let sampleInterval = 256
    /// Every txid from here on has a 5-byte CBOR encoding, so all answers of a kind have one length.
    static let firstTxid: UInt64 = 0x1_0000

    /// What a server child runs.
    enum Server: String {
        case posixEcho = "posix-echo"
        case echo
        case dhtNode = "dht-node"
    }

    /// One row of the table.
    struct Figures: Sendable {
        let name: String
        /// The median of the rounds.
        let requestsPerSecond: Double
        /// Half the range of the rounds, relative to the median.
        let spread: Double
        /// How busy the server's core and the load generator's core were (0...1, from /proc/stat).
        let serverCoreBusy: Double, generatorCoreBusy: Double
        /// Requests written off unanswered (when 100 ms passed without any answer), and answers of the
        /// wrong length or, among those checked, the wrong content.
        let lost: Int, wrong: Int
        /// Answers checked: decrypted and decoded, or for an echo, found among the requests sent.
        let checked: Int
    }

    /// The whole measurement.
    struct Report: Sendable {
        let serverCore: Int, generatorCore: Int
        /// The POSIX echo, the `UDPTransport` echo (the limit), PING, FIND_NODE, and PING while
        /// another client stores values.
        let rows: [Figures]
        var limit: Figures { rows[1] }
        /// Entries in the node's routing table (each found by a FIND_NODE for its own id).
        let routingEntries: Int
        /// Contacts in each FIND_NODE answer.
        let nodesPerAnswer: Int
        /// Datagram sizes, in bytes.
        let ping: (request: Int, answer: Int), findNode: (request: Int, answer: Int)
        /// The STORE_VALUE requests sent during the last row, and those answered as stored.
        let stores: (sent: Int, answered: Int)
        /// The PING rate while values were stored, relative to the PING rate alone.
        var pingWhileStoring: Double { rows[4].requestsPerSecond / rows[2].requestsPerSecond }
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    /// Where the server and the load generator run, and for how long each row is measured: a
    /// warm-up of one round, then `rounds` rounds.
    struct Plan: Sendable {
        let serverCore: Int, generatorCore: Int
        let round: Duration, rounds: Int
    }

    // MARK: The measurement

    /// Measures both echoes, then PING and FIND_NODE against one node, each for `seconds` in `rounds`.
    static func run(seconds: Double, rounds: Int) async throws -> Report {
        let cores = allowedCores()
        let plan = Plan(serverCore: cores[0], generatorCore: cores.count > 1 ? cores[1] : cores[0],
                        round: .seconds(seconds / Double(rounds)), rounds: rounds)
        let posixEcho = try await measureEcho(.posixEcho, "UDP echo, plain POSIX socket", plan)
        let echo = try await measureEcho(.echo, "UDP echo, UDPTransport (limit)", plan)

        let server = try ServerProcess(.dhtNode, core: plan.serverCore)
        defer { server.stop() }
        guard let node = server.id else { throw Failure("the node child did not print its id") }
        let identities = identities(near: node)
        let clients = try identities.prefix(clientCount).map { try Client(identity: $0, port: server.port) }
        defer { clients.forEach { $0.close() } }
        let routingEntries = try fillRoutingTable(of: server, node: node, with: identities, clients: clients)

        let pingPools = try pools(from: clients, to: node) { .pingRequest }
        let pingAnswer = try exchange(.pingRequest, from: clients[0], to: node).datagram.count
        let ping = await measure("encrypted PING answered", clients: clients, pools: pingPools, answerLength: pingAnswer, plan) {
            decode($1, by: clients[$0])?.body == .pingResponse
        }

        let probe = try findNode(Id.random(), from: clients[0], to: node)
        let findNodePools = try pools(from: clients, to: node) { .findNodeRequest(FindNodeRequest(target: Id.random(), want: .ipv4)) }
        let findNode = await measure("encrypted FIND_NODE answered", clients: clients, pools: findNodePools,
                                     answerLength: probe.datagramSize, plan) {
            guard case .findNodeResponse(let response)? = decode($1, by: clients[$0])?.body else { return false }
            return response.nodes.ipv4.count == probe.nodes.ipv4.count
        }

        // PING again while another client stores values: writes must not stall reads.
        let flood = try StoreFlood(port: server.port, node: node)
        flood.start(onCore: plan.generatorCore)
        let pingWhileStoring = await measure("PING, \(StoreFlood.rate) STORE_VALUE/s alongside", clients: clients, pools: pingPools,
                                             answerLength: pingAnswer, plan) {
            decode($1, by: clients[$0])?.body == .pingResponse
        }
        let stores = flood.stop()

        return Report(serverCore: plan.serverCore, generatorCore: plan.generatorCore, rows: [posixEcho, echo, ping, findNode, pingWhileStoring],
                      routingEntries: routingEntries, nodesPerAnswer: probe.nodes.ipv4.count,
                      ping: (pingPools[0][0].count, pingAnswer), findNode: (findNodePools[0][0].count, probe.datagramSize),
                      stores: stores)
    }

    /// An echo fed the bytes of PING requests (sealed to an identity nobody listens as), each answer
    /// checked to be one of the requests.
    private static func measureEcho(_ kind: Server, _ name: String, _ plan: Plan) async throws -> Figures {
        let server = try ServerProcess(kind, core: plan.serverCore)
        defer { server.stop() }
        let clients = try (0..<clientCount).map { _ in try Client(identity: KeyPair.random(), port: server.port) }
        defer { clients.forEach { $0.close() } }
        let pools = try pools(from: clients, to: KeyPair.random().publicKey) { .pingRequest }
        return await measure(name, clients: clients, pools: pools, answerLength: pools[0][0].count, plan) { pools[$0].contains($1) }
    }

    /// Drives the server from `clients` on a thread pinned to the generator's core, then checks the
    /// sampled answers with `isCorrect` (given the client's index and the answer).
    private static func measure(_ name: String, clients: [Client], pools: [[[UInt8]]], answerLength: Int, _ plan: Plan,
                                isCorrect: (Int, [UInt8]) -> Bool) async -> Figures {
        let sockets = clients.map(\.socket)
        let outcome = await onThread(pinnedTo: plan.generatorCore) {
            var generator = LoadGenerator(sockets: sockets, pools: pools, answerLength: answerLength)
            return generator.run(plan)
        }
        let misanswered = outcome.samples.filter { !isCorrect($0.client, $0.datagram) }.count
        let rates = outcome.roundRates.sorted(), median = rates[rates.count / 2]
        return Figures(name: name, requestsPerSecond: median, spread: (rates.last! - rates.first!) / 2 / median,
                       serverCoreBusy: outcome.serverCoreBusy, generatorCoreBusy: outcome.generatorCoreBusy,
                       lost: outcome.lost, wrong: outcome.wrongLength + misanswered, checked: outcome.samples.count)
    }

    /// `requestsPerClient` requests from each client, each with its own txid, sealed to `server`.
    private static func pools(from clients: [Client], to server: Id, body: () -> Message.Body) throws -> [[[UInt8]]] {
        try clients.map { client in
            try (0..<requestsPerClient).map { index in
                try client.envelope.seal(Message(txid: firstTxid + UInt64(index), body: body()).cbor, to: server, family: .ipv4)
            }
        }
    }

    // MARK: Talking to the node

    /// `bucketSize` identities for each of the `filledBuckets` buckets farthest from `node` (ids
    /// sharing exactly d leading bits with it, d < `filledBuckets`): key pairs are drawn until each
    /// bucket has its share. In round-robin order, so the first `clientCount` come from every bucket.
    private static func identities(near node: Id) -> [KeyPair] {
        var buckets = Array(repeating: [KeyPair](), count: filledBuckets)
        while buckets.contains(where: { $0.count < bucketSize }) {
            let identity = KeyPair.random()
            let depth = node.distance(to: identity.publicKey).leadingZeroBitCount
            if depth < filledBuckets, buckets[depth].count < bucketSize { buckets[depth].append(identity) }
        }
        return (0..<bucketSize).flatMap { slot in buckets.map { $0[slot] } }
    }

    /// Introduces the clients and then every other identity (each from a socket of its own) to the
    /// node; returns how many of the identities a FIND_NODE for their own id finds in its table.
    private static func fillRoutingTable(of server: ServerProcess, node: Id, with identities: [KeyPair], clients: [Client]) throws -> Int {
        for client in clients { try introduce(client, to: node) }
        for identity in identities.dropFirst(clients.count) {
            let contact = try Client(identity: identity, port: server.port)
            defer { contact.close() }
            try introduce(contact, to: node)
        }
        return try identities.filter { try findNode($0.publicKey, from: clients[0], to: node).nodes.ipv4.first?.id == $0.publicKey }.count
    }

    /// Makes `client` an entry of the node's routing table as the protocol does: it sends a PING,
    /// and answers the PING the node sends back to a contact it does not know.
    static func introduce(_ client: Client, to node: Id) throws {
        var answered = false, pinged = false
        try client.send(Message(txid: firstTxid, body: .pingRequest), to: node)
        while !(answered && pinged) {
            guard let datagram = client.receive(), let message = decode(datagram, by: client) else {
                throw Failure("the node did not answer a PING, or did not ping back")
            }
            if message.body == .pingRequest {
                try client.send(Message(txid: message.txid, body: .pingResponse), to: node)
                pinged = true
            } else {
                answered = true
            }
        }
    }

    /// What a FIND_NODE for `target` from `client` brings back, and the answer's size.
    private static func findNode(_ target: Id, from client: Client, to node: Id) throws -> (nodes: NodeLists, datagramSize: Int) {
        let (message, datagram) = try exchange(.findNodeRequest(FindNodeRequest(target: target, want: .ipv4)), from: client, to: node)
        guard case .findNodeResponse(let response) = message.body else { throw Failure("FIND_NODE answered with \(message.body)") }
        return (response.nodes, datagram.count)
    }

    /// Sends one request and returns the answer, decoded and as received.
    static func exchange(_ body: Message.Body, from client: Client, to node: Id) throws -> (message: Message, datagram: [UInt8]) {
        try client.send(Message(txid: firstTxid, body: body), to: node)
        guard let datagram = client.receive(), let message = decode(datagram, by: client) else {
            throw Failure("no answer to \(body)")
        }
        return (message, datagram)
    }

    /// `datagram` opened by `client` and decoded, or nil.
    static func decode(_ datagram: [UInt8], by client: Client) -> Message? {
        guard let opened = try? client.envelope.open(datagram, family: .ipv4) else { return nil }
        return try? Message.decode(cbor: opened.message)
    }

    // MARK: The server child

    /// `carrier-bench --serve MODE`: binds 127.0.0.1:0, prints `PORT ID` on one line (ID is the
    /// node's Base58 id, `-` for an echo) and serves until standard input closes.
    static func serve(_ mode: String) async throws {
        let loopback = Endpoint("127.0.0.1:0")!
        switch Server(rawValue: mode) {
        case .posixEcho:
            let socket = try loopbackSocket(port: 0, connect: false)
            Thread { echo(on: socket) }.start()
            announce(port: localPort(of: socket), id: nil)
            await standardInputClosed()
        case .echo:
            // Delivered on the event loop, as to a node, so answers leave with their read's flush.
            let echoing = Mutex<UDPTransport?>(nil)
            let transport = try await UDPTransport(binding: loopback, delivery: .onEventLoop { datagram in
                echoing.withLock { $0 }?.send(datagram.bytes, to: datagram.sender)
            })
            echoing.withLock { $0 = transport }
            announce(port: transport.localEndpoint.port, id: nil)
            await standardInputClosed()
            await transport.close()
        case .dhtNode:
            let directory = NSTemporaryDirectory() + "carrier-bench-\(UUID().uuidString)"
            defer { try? FileManager.default.removeItem(atPath: directory) }
            var configuration = DHTNode.Configuration(listen: loopback, dataDirectory: directory)
            configuration.allowLocal = true
            // On loopback the limit is per endpoint: it would hold each client to 32 requests a second.
            configuration.inboundRate = 1e9
            configuration.inboundBurst = 1e9
            // Nor may the limit for contacts (2,048 a second each) hold back the clients, which
            // are contacts once introduced.
            configuration.contactInboundRate = 1e9
            configuration.contactInboundBurst = 1e9
            let node = try DHTNode(identity: KeyPair.random(), configuration: configuration)
            try await node.start()
            guard let contact = await node.nodeInfo else { throw Failure("the node did not bind") }
            announce(port: contact.port, id: node.id)
            await standardInputClosed()
            let statistics = await node.statistics
            await node.stop()
            let refused = statistics.throttled + statistics.envelopeRejected + statistics.malformedMessages
            if refused > 0 { FileHandle.standardError.write(Data("request-rate node: refused \(refused) datagrams\n".utf8)) }
        case nil:
            throw Failure("\(serveFlag) takes posix-echo, echo or dht-node, not \"\(mode)\"")
        }
    }

    /// Sends every datagram back where it came from, forever.
    private static func echo(on socket: Int32) {
        var buffer = [UInt8](repeating: 0, count: 2048)
        var sender = sockaddr_storage()
        while true {
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            withUnsafeMutablePointer(to: &sender) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                    buffer.withUnsafeMutableBytes { bytes in
                        let received = recvfrom(socket, bytes.baseAddress, bytes.count, 0, address, &length)
                        if received >= 0 { sendto(socket, bytes.baseAddress, received, 0, address, length) }
                    }
                }
            }
        }
    }

    private static func announce(port: UInt16, id: Id?) {
        FileHandle.standardOutput.write(Data("\(port) \(id?.base58 ?? "-")\n".utf8))
    }

    /// Returns once standard input reaches its end: the parent closed it, or exited.
    private static func standardInputClosed() async {
        await withCheckedContinuation { continuation in
            Thread {
                _ = FileHandle.standardInput.readDataToEndOfFile()
                continuation.resume()
            }.start()
        }
    }

    // MARK: Sockets and cores

    /// A UDP socket on 127.0.0.1: bound to `port` (0: any free one), or connected to 127.0.0.1:`port`.
    static func loopbackSocket(port: UInt16, connect: Bool) throws -> Int32 {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                let size = socklen_t(MemoryLayout<sockaddr_in>.size)
                return connect ? Glibc.connect(socket, address, size) : bind(socket, address, size)
            }
        }
        guard socket >= 0, result == 0 else {
            Glibc.close(socket)
            throw Failure("cannot \(connect ? "connect" : "bind") a UDP socket to 127.0.0.1:\(port) (errno \(errno))")
        }
        return socket
    }

    private static func localPort(of socket: Int32) -> UInt16 {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket, $0, &length) } }
        return UInt16(bigEndian: address.sin_port)
    }

    /// The cores this process may run on, lowest first.
    private static func allowedCores() -> [Int] {
        var set = cpu_set_t()
        guard affinity("sched_getaffinity", &set) else { return [0] }
        let cores = withUnsafeBytes(of: set) { bytes in (0..<bytes.count * 8).filter { bytes[$0 / 8] & (1 << ($0 % 8)) != 0 } }
        return cores.isEmpty ? [0] : cores
    }

    /// Calls glibc's `sched_getaffinity` or `sched_setaffinity` (`name`) for the calling thread; Swift's
    /// Glibc module leaves both out, as they need _GNU_SOURCE. False if the call failed.
    private static func affinity(_ name: String, _ set: inout cpu_set_t) -> Bool {
        typealias Call = @convention(c) (pid_t, Int, UnsafeMutableRawPointer) -> Int32
        guard let symbol = dlsym(nil, name) else { return false }
        return withUnsafeMutableBytes(of: &set) { unsafeBitCast(symbol, to: Call.self)(0, $0.count, $0.baseAddress!) == 0 }
    }

    /// Runs `body` on a new thread pinned to `core`.
    static func onThread<T: Sendable>(pinnedTo core: Int, _ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            Thread {
                var set = cpu_set_t()
                withUnsafeMutableBytes(of: &set) { $0[core / 8] |= 1 << (core % 8) }
                _ = affinity("sched_setaffinity", &set)
                continuation.resume(returning: body())
            }.start()
        }
    }

    // MARK: The pieces

    /// A server child, `carrier-bench --serve MODE`, started through taskset on one core; it ends
    /// when its standard input closes (`stop()`, or this process ending in any way).
    struct ServerProcess {
        let port: UInt16
        /// The node's id (nil for an echo).
        let id: Id?
        private let process = Process()
        private let input = Pipe()

        init(_ server: Server, core: Int) throws {
            let executable = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
            let output = Pipe()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/taskset")
            process.arguments = ["--cpu-list", "\(core)", executable, serveFlag, server.rawValue]
            process.standardInput = input
            process.standardOutput = output
            try process.run()
            let line = try Self.firstLine(of: output.fileHandleForReading)
            let fields = line.split(separator: " ")
            guard fields.count == 2, let port = UInt16(fields[0]) else { throw Failure("the \(server.rawValue) child printed \"\(line)\"") }
            self.port = port
            id = Id(base58: String(fields[1]))
        }

        /// Closes the child's standard input, which ends it, and waits for it.
        func stop() {
            try? input.fileHandleForWriting.close()
            process.waitUntilExit()
        }

        private static func firstLine(of handle: FileHandle) throws -> String {
            var bytes = Data()
            while bytes.last != UInt8(ascii: "\n") {
                let chunk = handle.availableData
                guard !chunk.isEmpty else { throw Failure("the server child exited before printing its port") }
                bytes.append(chunk)
            }
            return String(decoding: bytes.dropLast(), as: UTF8.self)
        }
    }

    /// A client identity with its own UDP socket, connected to the server.
    struct Client: Sendable {
        let envelope: DatagramEnvelope
        let socket: Int32

        init(identity: KeyPair, port: UInt16) throws {
            socket = try loopbackSocket(port: port, connect: true)
            envelope = DatagramEnvelope(identity: identity)
        }

        /// Seals `message` to `node` and sends it.
        func send(_ message: Message, to node: Id) throws {
            let datagram = try envelope.seal(message.cbor, to: node, family: .ipv4)
            guard datagram.withUnsafeBytes({ Glibc.send(socket, $0.baseAddress, $0.count, 0) }) == datagram.count else {
                throw Failure("cannot send (errno \(errno))")
            }
        }

        /// The next datagram, or nil after a second without one.
        func receive() -> [UInt8]? {
            var ready = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
            guard poll(&ready, 1, 1000) == 1 else { return nil }
            var buffer = [UInt8](repeating: 0, count: 2048)
            let received = buffer.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
            return received < 0 ? nil : Array(buffer[..<received])
        }

        func close() { Glibc.close(socket) }
    }

    /// The load generator: keeps `inFlightPerClient` requests outstanding on each client's socket,
    /// sending the client's next request as each answer arrives.
    struct LoadGenerator {
        /// An answer kept for checking after the run.
        struct Sample: Sendable {
            let client: Int
            let datagram: [UInt8]
        }

        /// What a run measured.
        struct Outcome: Sendable {
            /// Answers per second in each round.
            let roundRates: [Double]
            let serverCoreBusy: Double, generatorCoreBusy: Double
            let lost: Int, wrongLength: Int
            let samples: [Sample]
        }

        private let sockets: [Int32]
        private let pools: [[[UInt8]]]
        private let answerLength: Int
        private var inFlight: [Int]
        private var sent: [Int]
        private var pollSet: [pollfd]
        private var answers = 0, lost = 0, wrongLength = 0
        private var samples: [Sample] = []
        private var buffer = [UInt8](repeating: 0, count: 2048)

        /// `pools[i]` are client i's sealed requests, sent in turn over `sockets[i]`; every answer
        /// should be `answerLength` bytes.
        init(sockets: [Int32], pools: [[[UInt8]]], answerLength: Int) {
            self.sockets = sockets
            self.pools = pools
            self.answerLength = answerLength
            inFlight = Array(repeating: 0, count: sockets.count)
            sent = inFlight
            pollSet = sockets.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        }

        /// A warm-up round, then the timed rounds; only these are counted.
        mutating func run(_ plan: Plan) -> Outcome {
            for client in sockets.indices { fill(client) }
            let clock = ContinuousClock()
            let warmUpEnd = clock.now + plan.round
            while clock.now < warmUpEnd { step() }
            (lost, wrongLength, samples) = (0, 0, [])
            let before = (server: coreTimes(plan.serverCore), generator: coreTimes(plan.generatorCore))
            var rates: [Double] = []
            for _ in 0..<plan.rounds {
                let start = clock.now, answersBefore = answers
                while clock.now - start < plan.round { step() }
                let elapsed = clock.now - start
                rates.append(Double(answers - answersBefore) / (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18))
            }
            let after = (server: coreTimes(plan.serverCore), generator: coreTimes(plan.generatorCore))
            let outcome = Outcome(roundRates: rates,
                                  serverCoreBusy: (after.server.busy - before.server.busy) / (after.server.total - before.server.total),
                                  generatorCoreBusy: (after.generator.busy - before.generator.busy) / (after.generator.total - before.generator.total),
                                  lost: lost, wrongLength: wrongLength, samples: samples)
            settle()
            return outcome
        }

        /// Takes the answers still on their way, so that the sockets are clean for their next use.
        private mutating func settle() {
            while inFlight.contains(where: { $0 > 0 }), poll(&pollSet, nfds_t(pollSet.count), 100) > 0 {
                for client in sockets.indices where pollSet[client].revents & Int16(POLLIN) != 0 { takeAnswers(client) }
            }
        }

        /// Waits up to 100 ms for answers and sends a request for each one taken. When none came at
        /// all, every outstanding request is written off as lost and replaced.
        private mutating func step() {
            guard poll(&pollSet, nfds_t(pollSet.count), 100) != 0 else {
                lost += inFlight.reduce(0, +)
                for client in sockets.indices {
                    inFlight[client] = 0
                    fill(client)
                }
                return
            }
            for client in sockets.indices where pollSet[client].revents & Int16(POLLIN) != 0 {
                takeAnswers(client)
                fill(client)
            }
        }

        /// Reads every answer waiting on `client`'s socket.
        private mutating func takeAnswers(_ client: Int) {
            let socket = sockets[client]
            while true {
                let received = buffer.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
                guard received >= 0 else { return }
                answers += 1
                inFlight[client] = max(0, inFlight[client] - 1)  // 0: a late answer to a request written off
                if received != answerLength { wrongLength += 1 }
                if answers % sampleInterval == 0 { samples.append(Sample(client: client, datagram: Array(buffer[..<received]))) }
            }
        }

        /// Tops up `client`'s outstanding requests.
        private mutating func fill(_ client: Int) {
            let socket = sockets[client], pool = pools[client]
            while inFlight[client] < inFlightPerClient {
                let datagram = pool[sent[client] % pool.count]
                guard datagram.withUnsafeBytes({ Glibc.send(socket, $0.baseAddress, $0.count, 0) }) >= 0 else { return }
                sent[client] += 1
                inFlight[client] += 1
            }
        }

        /// Clock ticks `core` has spent busy (anything but idle and I/O wait) and in all, from /proc/stat.
        private func coreTimes(_ core: Int) -> (busy: Double, total: Double) {
            let stat = (try? String(contentsOfFile: "/proc/stat", encoding: .utf8)) ?? ""
            guard let line = stat.split(separator: "\n").first(where: { $0.hasPrefix("cpu\(core) ") }) else { return (0, 1) }
            let ticks = line.split(separator: " ").dropFirst().prefix(8).map { Double($0) ?? 0 }  // user … steal
            let total = ticks.reduce(0, +)
            return (total - ticks[3] - ticks[4], total)
        }
    }
}
#endif
