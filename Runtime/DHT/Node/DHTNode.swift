import CarrierCore
import Foundation
import Logging
import NIOCore
import NIOPosix

/// A Boson DHT node: one identity on one UDP socket per address family (IPv4, IPv6 or both, each
/// with its own routing table, as the reference runs them), one storage. It answers requests, keeps
/// its routing tables alive, and runs lookups, stores and announcements for its owner with async/await.
///
/// Every inbound datagram is rate-limited per source unit (more generously for an endpoint that
/// answered us recently, `AnsweredEndpoints`), opened by the envelope, decoded and then
/// either answered (`RequestAnswerer`) or matched to an outstanding call by txid, address, method
/// and node id. Every outbound request is rate-limited per destination source unit too. Everything
/// refused is counted in `statistics`. The work is split by purpose over `DHTNode+*.swift`.
///
/// Threads: the actor runs on one SwiftNIO event loop (`eventLoop`, its `unownedExecutor`), the
/// loop its sockets are served on. A datagram is opened, decoded and answered on that loop as it is
/// read, with no hop; request timeouts and pauses are `scheduleTask`s on it; the child tasks of
/// lookups and writes prefer it (`taskExecutor`), and the storage's async writes run where their
/// caller is (`nonisolated(nonsending)`). So the node's work
/// does not wait for the global cooperative pool. Storage writes run on the storage's writer thread and their
/// answers come back to the loop (`docs/threading.md`).
public actor DHTNode {
    /// How a node runs.
    public struct Configuration: Sendable {
        /// Where to listen: at most one endpoint per address family (port 0 picks a free port).
        public var listen: [Endpoint]
        /// Where storage lives (`dht.sqlite` inside it).
        public var dataDirectory: String
        /// A store file shared with other nodes of this process (a testnet), each keeping its
        /// items under its own id; nil (the default): `dataDirectory/dht.sqlite`, the node's own.
        public var store: DHTStore?
        /// The event loops the node takes its one loop from (`next()`).
        public var eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
        /// Accept loopback and private addresses (local testnets).
        public var allowLocal = false
        public var k = 16
        public var alpha = 3
        /// How long a request may go unanswered.
        public var requestTimeout: Duration = .seconds(2)
        /// How many times a ping, a store or an announcement is sent before it counts as failed.
        /// Lookup requests are sent once: an unanswered one is replaced by the next candidate.
        public var attempts = 2
        /// Inbound datagrams per second per source unit, and the burst allowed, from a source
        /// that has not answered us (Boson's limit: its address may be spoofed).
        public var inboundRate: Double = 32
        public var inboundBurst: Double = 512
        /// The same from an endpoint that answered one of our requests in the last 30 minutes
        /// (`AnsweredEndpoints`): a live contact, such as a supernode busy on behalf of its
        /// clients. Twice the outbound rate, so a peer sending at its full rate still has room
        /// for its answers and pings.
        public var contactInboundRate: Double = 2048
        public var contactInboundBurst: Double = 4096
        /// Requests per second we send to one source unit, and the burst allowed.
        public var outboundRate: Double = 1024
        public var outboundBurst: Double = 1024
        /// How long a request over the outbound limit waits for its turn before it fails as
        /// throttled: a burst is paced at the rate rather than refused (a refused lookup or store
        /// is work lost, and retrying it only drains the budget further).
        public var outboundMaxWait: Duration = .seconds(1)

        public init(listen: [Endpoint], dataDirectory: String) {
            self.listen = listen
            self.dataDirectory = dataDirectory
        }

        public init(listen: Endpoint, dataDirectory: String) {
            self.init(listen: [listen], dataDirectory: dataDirectory)
        }
    }

    /// Why a call to another node did not get an answer.
    public enum CallFailure: Error, Sendable, Equatable {
        case timeout
        case cannotSeal(EnvelopeError.Reason)
        /// The node answered with an error reply.
        case remote(code: Int32, message: String)
        case cancelled
        /// Our outbound rate limit for the contact's source unit was exhausted; nothing was sent.
        case throttled
        /// This node has no socket in the contact's address family.
        case familyNotServed
    }

    struct PendingCall {
        let node: NodeInfo
        let method: Message.Method?
        let sentAt: ContinuousClock.Instant
        let continuation: CheckedContinuation<Result<Message.Body, CallFailure>, Never>
        /// Fails the call with `.timeout`; cancelled when it is answered.
        var timeout: Scheduled<Void>?
    }

    /// The loop the actor, its sockets and its timers run on.
    public nonisolated let eventLoop: any EventLoop
    /// The same loop, for the node's child tasks.
    nonisolated let taskExecutor: EventLoopTaskExecutor
    public nonisolated var unownedExecutor: UnownedSerialExecutor { eventLoop.executor.asUnownedSerialExecutor() }
    public nonisolated let identity: KeyPair
    public nonisolated let configuration: Configuration
    public nonisolated let storage: DHTStorage
    /// The address families served, in the order of `configuration.listen`.
    public nonisolated let families: [AddressFamily]
    let envelope: DatagramEnvelope
    let handler: RequestAnswerer
    var tables: [AddressFamily: RoutingTable] = [:]
    var transports: [AddressFamily: UDPTransport] = [:]
    var maintenanceTask: Task<Void, Never>?
    /// Checks every second whether a family is cut off (`DHTNode+Recovery`).
    var recoveryTask: Task<Void, Never>?
    /// The nodes given to `bootstrap`, the first a cut-off family goes back to.
    var bootstrapNodes: [NodeInfo] = []
    var reconnectSchedules: [AddressFamily: ReconnectSchedule] = [:]
    /// Families with a reconnection round running.
    var reconnecting: Set<AddressFamily> = []
    var pending: [UInt64: PendingCall] = [:]
    /// Pauses timed on the loop (`DHTNode+Loop`), by id.
    var pauses: [UInt64: Pause] = [:]
    var nextPause: UInt64 = 0
    /// The inbound limit, applied by the transports on their event loops.
    nonisolated let inboundGate: InboundGate
    var outboundLimiter: TokenBuckets<RateKey>
    var pinging: Set<Id> = []
    /// Smoothed round trip of all answers, in ms (0 until the first).
    var averageRTT: Double = 0
    let started = ContinuousClock.now
    let logger = Logger(label: "carrier.dht")
    /// What the actor has counted (`statistics` adds what the transports counted).
    var counted = NodeStatistics()
    /// Answers to durable writes, on their way from the writer thread to the loop.
    nonisolated let durableAnswers = DurableAnswers()

    /// A node that will listen on `configuration.listen` once started. Throws if the listen list is
    /// empty or names a family twice, or if the storage cannot be opened.
    public init(identity: KeyPair, configuration: Configuration) throws {
        let families = configuration.listen.map(\.family)
        guard !families.isEmpty, Set(families).count == families.count else {
            throw NodeConfigurationError("listen on one IPv4 and/or one IPv6 endpoint (got \(configuration.listen.map(\.description)))")
        }
        let eventLoop = configuration.eventLoopGroup.next()
        // The actor's executor is the loop itself: only a loop that is a serial executor (NIO's
        // own) can be one, and check `assumeIsolated`.
        guard eventLoop is any NIOSerialEventLoopExecutor else {
            throw NodeConfigurationError("the event loop group must be a MultiThreadedEventLoopGroup (got \(type(of: eventLoop)))")
        }
        self.eventLoop = eventLoop
        self.taskExecutor = EventLoopTaskExecutor(eventLoop)
        self.identity = identity
        self.configuration = configuration
        self.families = families
        self.envelope = DatagramEnvelope(identity: identity)
        do {
            try DataDirectory.create(configuration.dataDirectory)
        } catch {
            throw StorageError(error.description)
        }
        self.storage = try configuration.store.map { DHTStorage(store: $0, owner: identity.publicKey) }
            ?? DHTStorage(path: configuration.dataDirectory + "/dht.sqlite", owner: identity.publicKey)
        self.handler = RequestAnswerer(storage: storage, allowLocal: configuration.allowLocal)
        for family in families {
            tables[family] = RoutingTable(localId: identity.publicKey, bucketSize: configuration.k,
                                          maxEntriesPerSourceUnit: configuration.allowLocal ? nil : 8, now: 0)
        }
        self.inboundGate = InboundGate(strangerRate: configuration.inboundRate, strangerBurst: configuration.inboundBurst,
                                       contactRate: configuration.contactInboundRate, contactBurst: configuration.contactInboundBurst)
        self.outboundLimiter = TokenBuckets(rate: configuration.outboundRate, burst: configuration.outboundBurst)
    }

    /// This node's id.
    public nonisolated var id: Id { identity.publicKey }

    /// What the node has counted since it started, the drops on its sockets' event loops included.
    public var statistics: NodeStatistics {
        var statistics = counted
        statistics.throttled = inboundGate.throttled + transports.values.reduce(0) { $0 + $1.throttledInbound }
        statistics.datagramsReceived += statistics.throttled
        statistics.socketBufferDrops = transports.values.reduce(0) { $0 + ($1.kernelDrops() ?? 0) }
        return statistics
    }

    /// The bound addresses, one per family, once started.
    public var localEndpoints: [Endpoint] { families.compactMap { transports[$0]?.localEndpoint } }

    /// The first bound address, once started.
    public var localEndpoint: Endpoint? { localEndpoints.first }

    /// This node as a contact (`ID@HOST:PORT`) in each family, once started.
    public var nodeInfos: [NodeInfo] { localEndpoints.map { NodeInfo(id: id, address: $0.address, port: $0.port) } }

    /// This node as a contact in its first family, once started.
    public var nodeInfo: NodeInfo? { nodeInfos.first }

    /// The routing tables' entries, IPv4 first.
    public var contacts: [NodeInfo] { families.flatMap { contacts(in: $0) } }

    /// The entries of one family's routing table.
    public func contacts(in family: AddressFamily) -> [NodeInfo] { tables[family]?.entries.map(\.node) ?? [] }

    /// One family's routing table in OpenDHT's terms: `good` entries answered and failed fewer
    /// than 3 requests in a row since; the rest are `dubious` (never heard from, or failing).
    public func contactCounts(in family: AddressFamily) -> (good: Int, dubious: Int) {
        let entries = tables[family]?.entries ?? []
        let good = entries.count { $0.isEligible }
        return (good, entries.count - good)
    }

    /// Changes to what this node stores (values stored or updated, peers announced), from now on.
    public nonisolated func events() -> AsyncStream<DHTEvent> { storage.changes.subscribe() }

    /// Binds one socket per family and starts serving; returns the bound endpoints. If one family
    /// cannot be bound, none is.
    @discardableResult
    public func start() async throws -> [Endpoint] {
        for family in families {
            for entry in RoutingTableCache.load(from: cachePath(family), localId: id, now: monotonic, wallClock: wallClock) {
                tables[family]?.restore(entry, now: monotonic)
            }
        }
        for endpoint in configuration.listen {
            let family = endpoint.family
            // Read on the node's loop, so the handler is on the actor's executor.
            let delivery = UDPTransport.Delivery.onEventLoop { [weak self] datagram in
                self?.assumeIsolated { $0.receive(datagram, family: family) }
            }
            do {
                transports[family] = try await UDPTransport(binding: endpoint, delivery: delivery, admit: inboundGate.admit, group: eventLoop)
            } catch {
                for transport in transports.values { await transport.close() }
                transports = [:]
                throw ListenError(endpoint: endpoint, reason: "\(error)")
            }
        }
        for transport in transports.values where transport.receiveBufferCapped {
            logger.notice("the DHT socket got a smaller receive buffer than asked: bursts past it are dropped (raise net.core.rmem_max, or run with CAP_NET_ADMIN)",
                          metadata: ["bytes": "\(transport.receiveBufferSize)", "asked": "\(UDPTransport.receiveBufferWanted)", "socket": "\(transport.localEndpoint)"])
        }
        maintenanceTask = Task(executorPreference: taskExecutor) { [weak self] in
            // Ends with the node too: a released node leaves nothing looping.
            while !Task.isCancelled, let node = self {
                await node.pause(for: .seconds(10))
                guard !Task.isCancelled else { return }
                await node.maintain()
            }
        }
        recoveryTask = Task(executorPreference: taskExecutor) { [weak self] in
            while !Task.isCancelled, let node = self {
                await node.pause(for: .seconds(1))
                guard !Task.isCancelled else { return }
                await node.checkConnectivity()
            }
        }
        return localEndpoints
    }

    /// Creates and starts a node. With `ipv6Optional`, an IPv6 endpoint that cannot be bound (a host
    /// without IPv6) is dropped with a logged warning and the node serves IPv4 alone.
    public static func start(identity: KeyPair, configuration: Configuration, ipv6Optional: Bool) async throws -> DHTNode {
        do {
            let node = try DHTNode(identity: identity, configuration: configuration)
            try await node.start()
            return node
        } catch let error as ListenError where ipv6Optional && error.endpoint.family == .ipv6 && configuration.listen.count == 2 {
            Logger(label: "carrier.dht").warning("serving IPv4 only", metadata: ["reason": "\(error)"])
            var ipv4Only = configuration
            ipv4Only.listen.removeAll { $0.family == .ipv6 }
            let node = try DHTNode(identity: identity, configuration: ipv4Only)
            try await node.start()
            return node
        }
    }

    /// Stops serving, saves the routing tables, and fails every outstanding call.
    public func stop() async {
        maintenanceTask?.cancel()
        recoveryTask?.cancel()
        saveRoutingTables()
        for transport in transports.values { await transport.close() }
        for txid in Array(pending.keys) { finishCall(txid, with: .failure(.cancelled)) }
        transports = [:]
    }
}

/// A socket of the node could not be opened.
public struct ListenError: Error, CustomStringConvertible {
    public let endpoint: Endpoint
    public let reason: String
    public var description: String { "cannot listen on \(endpoint): \(reason)" }
}

/// A node configuration that cannot run.
public struct NodeConfigurationError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
