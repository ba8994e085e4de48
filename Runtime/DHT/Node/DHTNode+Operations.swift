import CarrierCore

/// The public DHT operations. Each runs in every family the node serves, concurrently, and merges
/// the answers: a dual-stack node finds what either network holds and writes to both.
extension DHTNode {
    /// Joins through `nodes`: pings each (in the families we serve), then looks up our own id.
    /// Returns how many of them answered. The nodes are remembered: a family cut off from the
    /// network later goes back to them (`DHTNode+Recovery`).
    @discardableResult
    public func bootstrap(_ nodes: [NodeInfo]) async -> Int {
        for node in nodes where bootstrapNodes.count < 64 && !bootstrapNodes.contains(node) { bootstrapNodes.append(node) }
        let answered = await withTaskGroup(of: Bool.self) { group in
            for node in nodes { group.addTask(executorPreference: taskExecutor) { await self.ping(node) } }
            var answered = 0
            for await reached in group where reached { answered += 1 }
            return answered
        }
        _ = await findNode(id)
        return answered
    }

    /// Pings `node` (retrying per `configuration.attempts`); true if it answered.
    public func ping(_ node: NodeInfo) async -> Bool {
        if case .success = await call(.pingRequest, to: node, attempts: configuration.attempts) { return true }
        return false
    }

    /// The K closest nodes to `target` that answered, per family (IPv4 first), closest first.
    public func findNode(_ target: Id) async -> [NodeInfo] {
        await acrossFamilies { node, family in
            await node.lookup(target, in: family) { want in
                .findNodeRequest(FindNodeRequest(target: target, want: want))
            } onAnswer: { _, _ in false }.closestAnswered
        }.flatMap { $0 }
    }

    /// The value with `id` (with seq ≥ `cas` when given), from local storage or the network; of
    /// several versions found, the one with the greatest `seq`. Nil both when it is not found and
    /// when no node could be reached; `searchValue` tells the two apart.
    public func findValue(_ id: Id, cas: Int32? = nil) async -> Value? {
        await searchValue(id, cas: cas).found
    }

    /// `findValue`, saying whether a missing value was looked for on the closest nodes
    /// (`.notFound`) or could not be looked for because no node answered (`.unreachable`).
    public func searchValue(_ id: Id, cas: Int32? = nil) async -> SearchOutcome<Value> {
        if let local = try? storage.value(id, cas: cas, now: wallClock) { return .found(local) }
        let searches = await acrossFamilies(stopWhen: { $0.found != nil }) { node, family in
            await node.findValue(id, cas: cas, in: family)
        }
        if let best = searches.compactMap(\.found).max(by: { $0.sequenceNumber < $1.sequenceNumber }) { return .found(best) }
        return searches.contains { $0.reached } ? .notFound : .unreachable
    }

    /// Stores `value` on the K closest nodes of each family; returns which of them accepted it. A
    /// `persistent` value is also kept locally, for republishing.
    public func storeValue(_ value: Value, cas: Int32? = nil, persistent: Bool = true) async throws(ProtocolError) -> [Id: Bool] {
        try await storeValueAnswers(value, cas: cas, persistent: persistent).mapValues { $0 == .accepted }
    }

    /// `storeValue`, with each node's answer: with a `cas`, a node that holds a newer version
    /// says so (`.conflict`), so a read-modify-write learns that it must read again. Without
    /// one, a node answering CasFail all the same has simply failed. A node holding a greater
    /// `seq`, or other content at this one, answers `.stale`. Empty when no node could be reached
    /// (the node is cut off), as opposed to nodes that answered and refused.
    public func storeValueAnswers(_ value: Value, cas: Int32?, persistent: Bool) async throws(ProtocolError) -> [Id: WriteAnswer] {
        try value.validate()
        if persistent { try await storage.putValue(value, cas: cas, persistent: true, now: wallClock) }
        let outcome = await writeEverywhere(to: value.id) { token in .storeValueRequest(StoreValueRequest(token: token, cas: cas, value: value)) }
        if persistent { try? await storage.markValueAnnounced(value.id, now: wallClock) }
        return cas == nil ? outcome.mapValues { $0 == .conflict ? .failed : $0 } : outcome
    }

    /// Up to `count` valid peer records for `peerId`, greatest `seq` first; empty both when there
    /// are none and when no node could be reached (`searchPeers` tells them apart).
    public func findPeers(_ peerId: Id, count: Int = 8) async -> [PeerInfo] {
        await searchPeers(peerId, count: count).found ?? []
    }

    /// `findPeers`, with `.notFound` and `.unreachable` told apart as for `searchValue`.
    public func searchPeers(_ peerId: Id, count: Int = 8) async -> SearchOutcome<[PeerInfo]> {
        let local = (try? storage.peers(peerId, limit: count, now: wallClock)) ?? []
        let remote = await acrossFamilies(stopWhen: { $0.peers.count >= count }) { node, family in
            await node.findPeers(peerId, count: count, in: family)
        }
        var found: [Int64: PeerInfo] = [:]
        for peer in local + remote.flatMap(\.peers) where (found[peer.fingerprint]?.sequenceNumber ?? -1) < peer.sequenceNumber {
            found[peer.fingerprint] = peer
        }
        if !found.isEmpty { return .found(Array(found.values.sorted { $0.sequenceNumber > $1.sequenceNumber }.prefix(count))) }
        return remote.contains { $0.reached } ? .notFound : .unreachable
    }

    /// Announces `peer` to the K closest nodes of each family; returns which accepted it.
    public func announcePeer(_ peer: PeerInfo, persistent: Bool = true) async throws(ProtocolError) -> [Id: Bool] {
        try await announcePeerAnswers(peer, persistent: persistent).mapValues { $0 == .accepted }
    }

    /// `announcePeer`, with each node's answer (an announcement carries no `cas`: accepted or
    /// failed); empty when no node could be reached.
    public func announcePeerAnswers(_ peer: PeerInfo, persistent: Bool) async throws(ProtocolError) -> [Id: WriteAnswer] {
        try peer.validate()
        if persistent { try await storage.putPeer(peer, persistent: true, now: wallClock) }
        let outcome = await writeEverywhere(to: peer.peerId) { token in .announcePeerRequest(AnnouncePeerRequest(token: token, peer: peer)) }
        if persistent { try? await storage.markPeerAnnounced(peer.peerId, fingerprint: peer.fingerprint, now: wallClock) }
        return outcome.mapValues { $0 == .conflict ? .failed : $0 }
    }

    // MARK: Per family

    /// One family's search: what it found, and whether any node answered.
    private func findValue(_ id: Id, cas: Int32?, in family: AddressFamily) async -> (found: Value?, reached: Bool) {
        var found: Value?
        let lookup = await lookup(id, in: family) { want in .findValueRequest(FindValueRequest(target: id, want: want, cas: cas)) } onAnswer: { _, body in
            guard case .findValueResponse(let response) = body, let value = response.value, value.id == id, value.isValid,
                  cas.map({ value.publicKey == nil || value.sequenceNumber >= $0 }) ?? true else { return false }
            if found == nil || value.sequenceNumber > found!.sequenceNumber { found = value }
            return true
        }
        return (found, !lookup.closestAnswered.isEmpty)
    }

    private func findPeers(_ peerId: Id, count: Int, in family: AddressFamily) async -> (peers: [PeerInfo], reached: Bool) {
        var found: [Int64: PeerInfo] = [:]
        let lookup = await lookup(peerId, in: family) { want in
            .findPeerRequest(FindPeerRequest(target: peerId, want: want, expectedCount: Int32(min(count, RequestAnswerer.maxPeersPerAnswer))))
        } onAnswer: { _, body in
            guard case .findPeerResponse(let response) = body else { return false }
            for peer in response.peers where peer.peerId == peerId && peer.isValid {
                if (found[peer.fingerprint]?.sequenceNumber ?? -1) < peer.sequenceNumber { found[peer.fingerprint] = peer }
            }
            return found.count >= count
        }
        return (Array(found.values), !lookup.closestAnswered.isEmpty)
    }

    /// Writes to the K closest of every family; a node's answer is the more telling of its
    /// families' (`WriteAnswer.merged`).
    func writeEverywhere(to target: Id, request: @escaping @Sendable (Int32) -> Message.Body) async -> [Id: WriteAnswer] {
        let outcomes = await acrossFamilies { node, family in await node.write(to: target, in: family, request: request) }
        return outcomes.reduce(into: [:]) { merged, outcome in merged.merge(outcome) { $0.merged(with: $1) } }
    }

    /// Runs `body` for every family served, concurrently; results in family order. Once a result
    /// satisfies `stopWhen`, the other families' work is cancelled.
    private func acrossFamilies<T: Sendable>(stopWhen done: @escaping @Sendable (T) -> Bool = { _ in false },
                                             _ body: @escaping @Sendable (DHTNode, AddressFamily) async -> T) async -> [T] {
        let families = self.families
        if families.count == 1 { return [await body(self, families[0])] }
        return await withTaskGroup(of: (Int, T).self) { group in
            for (index, family) in families.enumerated() { group.addTask(executorPreference: taskExecutor) { (index, await body(self, family)) } }
            var results: [(Int, T)] = []
            for await result in group {
                results.append(result)
                if done(result.1) { group.cancelAll() }
            }
            return results.sorted { $0.0 < $1.0 }.map(\.1)
        }
    }
}
