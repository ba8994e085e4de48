import CarrierCore
import Foundation
import Logging

/// A Boson DHT node on one UDP socket (one address family): answers requests, keeps its routing
/// table alive, and runs lookups, stores and announcements for its owner with async/await.
///
/// Every inbound datagram is rate-limited per source unit, opened by the envelope, decoded and then
/// either answered (`RequestHandler`) or matched to an outstanding call by txid, address, method
/// and node id. Everything refused is counted in `statistics`.
public actor DHTNode {
    /// How a node runs.
    public struct Configuration: Sendable {
        /// Where to listen (port 0 picks a free port).
        public var listen: Endpoint
        /// Where storage lives (`dht.sqlite` inside it).
        public var dataDirectory: String
        /// Accept loopback and private addresses (local testnets).
        public var allowLocal = false
        public var k = 16
        public var alpha = 3
        /// How long a request may go unanswered.
        public var requestTimeout: Duration = .seconds(2)
        /// Inbound datagrams per second per source unit, and the burst allowed.
        public var inboundRate: Double = 32
        public var inboundBurst: Double = 512

        public init(listen: Endpoint, dataDirectory: String) {
            self.listen = listen
            self.dataDirectory = dataDirectory
        }
    }

    /// Why a call to another node did not get an answer.
    public enum CallFailure: Error, Sendable {
        case timeout
        case cannotSeal(EnvelopeError)
        /// The node answered with an error reply.
        case remote(code: Int32, message: String)
        case cancelled
    }

    private struct PendingCall {
        let node: NodeInfo
        let method: Message.Method?
        let sentAt: ContinuousClock.Instant
        let continuation: CheckedContinuation<Result<Message.Body, CallFailure>, Never>
    }

    public nonisolated let identity: KeyPair
    public nonisolated let configuration: Configuration
    public nonisolated let storage: DHTStorage
    private let envelope: DatagramEnvelope
    private let handler: RequestHandler
    private let family: AddressFamily
    private var table: RoutingTable
    private var transport: UDPTransport?
    private var receiveTask: Task<Void, Never>?
    private var maintenanceTask: Task<Void, Never>?
    private var pending: [UInt64: PendingCall] = [:]
    private var nextTxid = UInt64.random(in: 1...0xFFFF)
    private var limiter: RateLimiter<RateKey>
    private var pinging: Set<Id> = []
    /// Smoothed round trip of all answers, in ms (0 until the first).
    private var averageRTT: Double = 0
    private let started = ContinuousClock.now
    private let logger = Logger(label: "carrier.dht")
    /// What the node has counted.
    public private(set) var statistics = NodeStatistics()

    private enum RateKey: Hashable {
        case unit(SourceUnit)
        case endpoint(Endpoint)
    }

    public init(identity: KeyPair, configuration: Configuration) throws {
        self.identity = identity
        self.configuration = configuration
        self.family = configuration.listen.family
        self.envelope = DatagramEnvelope(identity: identity)
        do {
            try DataDirectory.create(configuration.dataDirectory)
        } catch {
            throw StorageError(error.description)
        }
        self.storage = try DHTStorage(path: configuration.dataDirectory + "/dht.sqlite")
        self.handler = RequestHandler(storage: storage, allowLocal: configuration.allowLocal)
        self.table = RoutingTable(localId: identity.publicKey, bucketSize: configuration.k,
                                  maxEntriesPerSourceUnit: configuration.allowLocal ? nil : 8, now: 0)
        self.limiter = RateLimiter(rate: configuration.inboundRate, burst: configuration.inboundBurst)
    }

    /// This node's id.
    public nonisolated var id: Id { identity.publicKey }

    /// The bound address, once started.
    public var localEndpoint: Endpoint? { transport?.localEndpoint }

    /// This node as a contact (`ID@HOST:PORT`), once started.
    public var nodeInfo: NodeInfo? {
        transport.map { NodeInfo(id: id, address: $0.localEndpoint.address, port: $0.localEndpoint.port) }
    }

    /// The routing table's entries.
    public var contacts: [NodeInfo] { table.entries.map(\.node) }

    /// Binds the socket and starts serving; returns the bound endpoint.
    @discardableResult
    public func start() async throws -> Endpoint {
        for entry in RoutingTableCache.load(from: cachePath, localId: id, now: monotonic, wallClock: wallClock) {
            table.restore(entry, now: monotonic)
        }
        let transport = try await UDPTransport(binding: configuration.listen)
        self.transport = transport
        receiveTask = Task { [weak self] in
            await transport.receive { datagram in await self?.receive(datagram) }
        }
        maintenanceTask = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(10))
                await self?.maintain()
            }
        }
        return transport.localEndpoint
    }

    /// Stops serving, saves the routing table, and fails every outstanding call.
    public func stop() async {
        maintenanceTask?.cancel()
        saveRoutingTable()
        await transport?.close()
        receiveTask?.cancel()
        for (_, call) in pending { call.continuation.resume(returning: .failure(.cancelled)) }
        pending = [:]
        transport = nil
    }

    // MARK: Public operations

    /// Joins through `nodes`: pings each, then looks up our own id.
    public func bootstrap(_ nodes: [NodeInfo]) async {
        await withTaskGroup(of: Void.self) { group in
            for node in nodes { group.addTask { _ = await self.call(.pingRequest, to: node) } }
        }
        _ = await findNode(id)
    }

    /// Pings `node`; true if it answered.
    public func ping(_ node: NodeInfo) async -> Bool {
        if case .success = await call(.pingRequest, to: node) { return true }
        return false
    }

    /// The K closest nodes to `target` that answered.
    public func findNode(_ target: Id) async -> [NodeInfo] {
        await lookup(target) { .findNodeRequest(FindNodeRequest(target: target, want: self.want)) } onAnswer: { _, _ in false }.closestAnswered
    }

    /// The value with `id` (with seq ≥ `cas` when given), from local storage or the network.
    public func findValue(_ id: Id, cas: Int32? = nil) async -> Value? {
        if let local = try? storage.value(id, cas: cas, now: wallClock) { return local }
        var found: Value?
        _ = await lookup(id) { .findValueRequest(FindValueRequest(target: id, want: self.want, cas: cas)) } onAnswer: { _, body in
            guard case .findValueResponse(let response) = body, let value = response.value, value.id == id, value.isValid,
                  cas.map({ value.publicKey == nil || value.sequenceNumber >= $0 }) ?? true else { return false }
            if found == nil || value.sequenceNumber > found!.sequenceNumber { found = value }
            return true
        }
        return found
    }

    /// Stores `value` on the K closest nodes; returns which of them accepted it. A `persistent`
    /// value is also kept locally, for republishing.
    public func storeValue(_ value: Value, cas: Int32? = nil, persistent: Bool = true) async throws(ProtocolError) -> [Id: Bool] {
        try value.validate()
        if persistent { try storage.putValue(value, cas: cas, persistent: true, now: wallClock) }
        let outcome = await write(to: value.id) { token in .storeValueRequest(StoreValueRequest(token: token, cas: cas, value: value)) }
        if persistent { try? storage.markValueAnnounced(value.id, now: wallClock) }
        return outcome
    }

    /// Up to `count` valid peer records for `peerId`.
    public func findPeers(_ peerId: Id, count: Int = 8) async -> [PeerInfo] {
        var found: [Int64: PeerInfo] = [:]
        for peer in (try? storage.peers(peerId, limit: count, now: wallClock)) ?? [] { found[peer.fingerprint] = peer }
        _ = await lookup(peerId) {
            .findPeerRequest(FindPeerRequest(target: peerId, want: self.want, expectedCount: Int32(min(count, 8))))
        } onAnswer: { _, body in
            guard case .findPeerResponse(let response) = body else { return false }
            for peer in response.peers where peer.peerId == peerId && peer.isValid {
                if (found[peer.fingerprint]?.sequenceNumber ?? -1) < peer.sequenceNumber { found[peer.fingerprint] = peer }
            }
            return found.count >= count
        }
        return Array(found.values.sorted { $0.sequenceNumber > $1.sequenceNumber }.prefix(count))
    }

    /// Announces `peer` to the K closest nodes; returns which accepted it.
    public func announcePeer(_ peer: PeerInfo, persistent: Bool = true) async throws(ProtocolError) -> [Id: Bool] {
        try peer.validate()
        if persistent { try storage.putPeer(peer, persistent: true, now: wallClock) }
        let outcome = await write(to: peer.peerId) { token in .announcePeerRequest(AnnouncePeerRequest(token: token, peer: peer)) }
        if persistent { try? storage.markPeerAnnounced(peer.peerId, fingerprint: peer.fingerprint, now: wallClock) }
        return outcome
    }

    // MARK: Lookups and writes

    private nonisolated var want: LookupWant { configuration.listen.family == .ipv4 ? .ipv4 : .ipv6 }

    /// Runs an iterative lookup; `onAnswer` sees each answer and returns true to finish early.
    private func lookup(_ target: Id, request: @escaping @Sendable () -> Message.Body,
                        onAnswer: (NodeInfo, Message.Body) -> Bool) async -> IterativeLookup {
        var lookup = IterativeLookup(target: target, seeds: table.closest(to: target, count: configuration.k),
                                     k: configuration.k, alpha: configuration.alpha, excluding: id)
        await withTaskGroup(of: (NodeInfo, Result<Message.Body, CallFailure>).self) { group in
            var inFlight = 0
            while true {
                for node in lookup.nextRequests() {
                    inFlight += 1
                    group.addTask { (node, await self.call(request(), to: node)) }
                }
                guard inFlight > 0, let (node, result) = await group.next() else { break }
                inFlight -= 1
                switch result {
                case .success(let body):
                    lookup.recordAnswer(from: node.id, nodes: acceptableNodes(in: body))
                    if onAnswer(node, body) { lookup.finish() }
                case .failure:
                    lookup.recordFailure(of: node.id)
                }
                if lookup.isFinished { break }
            }
            group.cancelAll()
        }
        table.markRefreshed(target, now: monotonic)
        return lookup
    }

    /// Finds the K closest nodes to `target` with write tokens, then sends each its write.
    private func write(to target: Id, request: @escaping @Sendable (Int32) -> Message.Body) async -> [Id: Bool] {
        var tokens: [Id: Int32] = [:]
        let closest = await lookup(target) { .findNodeRequest(FindNodeRequest(target: target, want: self.want.union(.token))) } onAnswer: { node, body in
            if case .findNodeResponse(let response) = body, response.token != 0 { tokens[node.id] = response.token }
            return false
        }.closestAnswered
        return await withTaskGroup(of: (Id, Bool).self) { group in
            for node in closest {
                guard let token = tokens[node.id] else { continue }
                group.addTask {
                    if case .success = await self.call(request(token), to: node) { return (node.id, true) }
                    return (node.id, false)
                }
            }
            var outcome: [Id: Bool] = [:]
            for await (node, accepted) in group { outcome[node] = accepted }
            return outcome
        }
    }

    /// The contacts of an answer in our family, or none if the answer breaks the wire limits
    /// (more than 16, or more than 8 from one global source unit), as the reference does.
    private func acceptableNodes(in body: Message.Body) -> [NodeInfo] {
        let lists: NodeLists
        switch body {
        case .findNodeResponse(let response): lists = response.nodes
        case .findValueResponse(let response): lists = response.nodes
        case .findPeerResponse(let response): lists = response.nodes
        default: return []
        }
        let nodes = family == .ipv4 ? lists.ipv4 : lists.ipv6
        var perUnit: [SourceUnit: Int] = [:]
        for node in nodes where node.address.isGlobalUnicast { perUnit[SourceUnit(node.address), default: 0] += 1 }
        guard nodes.count <= RequestHandler.maxNodesPerFamily, perUnit.values.allSatisfy({ $0 <= RequestHandler.maxNodesPerSourceUnit }) else {
            statistics.nodeListsDiscarded += 1
            return []
        }
        return nodes.filter { $0.id != id && $0.port != 0 && (configuration.allowLocal || $0.address.isGlobalUnicast) }
    }

    // MARK: Calls

    /// Sends `body` to `node` and waits for its answer (or the timeout).
    func call(_ body: Message.Body, to node: NodeInfo) async -> Result<Message.Body, CallFailure> {
        guard let transport else { return .failure(.cancelled) }
        nextTxid = nextTxid >= UInt64(Int32.max) ? 1 : nextTxid + 1
        let txid = nextTxid
        let datagram: [UInt8]
        do {
            datagram = try envelope.seal(Message(txid: txid, body: body).cbor, to: node.id, family: family)
        } catch {
            return .failure(.cannotSeal(error))
        }
        let timeout = timeout(for: node.id)
        table.recordRequestSent(to: node.id, now: monotonic)
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                pending[txid] = PendingCall(node: node, method: body.method, sentAt: .now, continuation: continuation)
                transport.send(datagram, to: Endpoint(address: node.address, port: node.port))
                statistics.datagramsSent += 1
                Task { [weak self] in
                    try? await Task.sleep(for: timeout)
                    await self?.finishCall(txid, with: .failure(.timeout))
                }
            }
        } onCancel: {
            Task { [weak self] in await self?.finishCall(txid, with: .failure(.cancelled)) }
        }
    }

    /// Adaptive timeout: four times the contact's smoothed round trip (or, for a contact never
    /// measured, the node's overall one), at least 200 ms and at most the configured timeout.
    private func timeout(for id: Id) -> Duration {
        let known = table.entry(for: id)?.averageRTT ?? 0
        let rtt = known > 0 ? known : averageRTT
        guard rtt > 0 else { return configuration.requestTimeout }
        return min(configuration.requestTimeout, .milliseconds(max(200, Int64(rtt * 4))))
    }

    private func finishCall(_ txid: UInt64, with result: Result<Message.Body, CallFailure>) {
        guard let call = pending.removeValue(forKey: txid) else { return }
        if case .failure(.timeout) = result {
            statistics.requestsTimedOut += 1
            table.recordTimeout(of: call.node.id, now: monotonic)
        }
        call.continuation.resume(returning: result)
    }

    // MARK: Inbound

    private func receive(_ datagram: UDPTransport.Datagram) {
        statistics.datagramsReceived += 1
        let key: RateKey = datagram.sender.address.isGlobalUnicast ? .unit(SourceUnit(datagram.sender.address)) : .endpoint(datagram.sender)
        guard limiter.allow(key, now: monotonic) else {
            statistics.throttled += 1
            return
        }
        let opened: (sender: Id, message: [UInt8])
        do {
            opened = try envelope.open(datagram.bytes, family: family)
        } catch {
            statistics.envelopeRejected += 1
            return
        }
        let sender = NodeInfo(id: opened.sender, address: datagram.sender.address, port: datagram.sender.port)
        let message: Message
        do {
            message = try Message.decode(cbor: opened.message)
        } catch {
            statistics.malformedMessages += 1
            if case .unknownMethod(let txid) = error {
                reply(to: sender, txid: txid, .error(method: nil, ErrorBody(code: ErrorCode.methodUnknown.rawValue, message: "method unknown")))
            }
            return
        }
        if message.kind == .request {
            if let answer = handler.answer(message.body, from: sender, family: family, ipv4: family == .ipv4 ? table : nil,
                                           ipv6: family == .ipv6 ? table : nil, now: monotonic, wallClock: wallClock) {
                reply(to: sender, txid: message.txid, answer)
            }
            if configuration.allowLocal || sender.address.isGlobalUnicast, table.recordRequest(from: sender, now: monotonic) {
                pingNewContact(sender)
            }
            return
        }
        guard let call = pending[message.txid], call.node.id == sender.id, call.node.address == sender.address,
              call.node.port == sender.port, message.body.method == call.method || message.body.method == nil else {
            statistics.unmatchedResponses += 1
            return
        }
        pending[message.txid] = nil
        let elapsed = ContinuousClock.now - call.sentAt
        let rtt = max(0.01, Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15)
        averageRTT = averageRTT == 0 ? rtt : averageRTT * 0.9 + rtt * 0.1
        table.recordResponse(from: sender, rtt: rtt, now: monotonic)
        if case .error(_, let error) = message.body {
            call.continuation.resume(returning: .failure(.remote(code: error.code, message: error.message)))
        } else {
            call.continuation.resume(returning: .success(message.body))
        }
    }

    private func reply(to node: NodeInfo, txid: UInt64, _ body: Message.Body) {
        var message = Message(txid: txid, body: body)
        var bytes = message.cbor
        if bytes.count + DatagramEnvelope.overhead > family.maxOutboundDatagramSize {
            message = Message(txid: txid, body: .error(method: body.method, ErrorBody(code: ErrorCode.messageTooBig.rawValue, message: "message too big")))
            bytes = message.cbor
        }
        if case .error(_, let error) = message.body { statistics.errorsSent[error.code, default: 0] += 1 } else { statistics.requestsAnswered += 1 }
        guard let datagram = try? envelope.seal(bytes, to: node.id, family: family) else { return }
        transport?.send(datagram, to: Endpoint(address: node.address, port: node.port))
        statistics.datagramsSent += 1
    }

    /// An unknown contact sent us a request: ping it once; its answer makes it an entry.
    private func pingNewContact(_ node: NodeInfo) {
        guard pinging.insert(node.id).inserted else { return }
        Task {
            _ = await call(.pingRequest, to: node)
            pinging.remove(node.id)
        }
    }

    // MARK: Maintenance

    private var cachePath: String {
        configuration.dataDirectory + (family == .ipv4 ? "/dht4.cache" : "/dht6.cache")
    }

    private func saveRoutingTable() {
        do {
            try RoutingTableCache.save(table, to: cachePath, now: monotonic, wallClock: wallClock)
        } catch {
            logger.warning("cannot save the routing table", metadata: ["path": "\(cachePath)", "error": "\(error)"])
        }
    }

    /// Pings questionable entries, refreshes stale buckets, purges expired storage, republishes our
    /// own items, and saves the routing table.
    private func maintain() async {
        saveRoutingTable()
        await republish()
        for entry in table.entriesNeedingPing(now: monotonic).prefix(8) { pingNewContact(entry.node) }
        for target in table.refreshTargets(now: monotonic, interval: 15 * 60_000).prefix(1) { _ = await findNode(target) }
        _ = try? storage.purgeExpired(now: wallClock)
    }

    /// Re-announces our own values and peer records last announced more than 110 minutes ago.
    private func republish() async {
        let age: Int64 = 110 * 60_000
        for value in (try? storage.valuesToRepublish(now: wallClock, olderThan: age)) ?? [] {
            _ = await write(to: value.id) { token in .storeValueRequest(StoreValueRequest(token: token, value: value)) }
            try? storage.markValueAnnounced(value.id, now: wallClock)
        }
        for peer in (try? storage.peersToRepublish(now: wallClock, olderThan: age)) ?? [] {
            _ = await write(to: peer.peerId) { token in .announcePeerRequest(AnnouncePeerRequest(token: token, peer: peer)) }
            try? storage.markPeerAnnounced(peer.peerId, fingerprint: peer.fingerprint, now: wallClock)
        }
    }

    private var monotonic: Int64 {
        let elapsed = ContinuousClock.now - started
        return elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000
    }

    private nonisolated var wallClock: Int64 { Int64(Date().timeIntervalSince1970 * 1000) }
}
