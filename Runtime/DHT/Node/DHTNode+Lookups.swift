import CarrierCore

/// Iterative lookups and writes in one address family, driven over real calls.
extension DHTNode {
    /// Runs an iterative lookup in `family`; `request` builds each request for the `want` flags,
    /// `onAnswer` sees each answer and returns true to finish early. Ends early when cancelled.
    /// With no live contact, it first makes a reconnection round (`reconnectNow`).
    func lookup(_ target: Id, in family: AddressFamily, request: @escaping @Sendable (LookupWant) -> Message.Body,
                onAnswer: (NodeInfo, Message.Body) -> Bool) async -> IterativeLookup {
        // Cut off (every contact failing): reconnect first rather than send nothing.
        if !hasLiveContact(in: family) { await reconnectNow(in: family) }
        let table = tables[family]!
        var lookup = IterativeLookup(target: target, seeds: table.closest(to: target, count: configuration.k),
                                     k: configuration.k, alpha: configuration.alpha, excluding: id)
        let body = request(want(in: family))
        await withTaskGroup(of: (NodeInfo, Result<Message.Body, CallFailure>).self) { group in
            var inFlight = 0
            while !Task.isCancelled {
                for node in lookup.nextRequests() {
                    inFlight += 1
                    group.addTask(executorPreference: taskExecutor) { (node, await self.call(body, to: node)) }
                }
                guard inFlight > 0, let (node, result) = await group.next() else { break }
                inFlight -= 1
                switch result {
                case .success(let answer):
                    lookup.recordAnswer(from: node, nodes: acceptableNodes(in: answer, family: family))
                    if onAnswer(node, answer) { lookup.finish() }
                case .failure:
                    lookup.recordFailure(of: node)
                }
                if lookup.isFinished { break }
            }
            group.cancelAll()
        }
        tables[family]?.markRefreshed(target, now: monotonic)
        return lookup
    }

    /// Finds the K closest nodes of `family` to `target` with write tokens, then sends each its
    /// write (retried per `configuration.attempts`); returns each node's answer.
    func write(to target: Id, in family: AddressFamily, request: @escaping @Sendable (Int32) -> Message.Body) async -> [Id: WriteAnswer] {
        var tokens: [Id: Int32] = [:]
        let closest = await lookup(target, in: family) { want in
            .findNodeRequest(FindNodeRequest(target: target, want: want.union(.token)))
        } onAnswer: { node, body in
            if case .findNodeResponse(let response) = body, response.token != 0 { tokens[node.id] = response.token }
            return false
        }.closestAnswered
        let attempts = configuration.attempts
        return await withTaskGroup(of: (Id, WriteAnswer).self) { group in
            for node in closest {
                guard let token = tokens[node.id] else { continue }
                group.addTask(executorPreference: taskExecutor) {
                    switch await self.call(request(token), to: node, attempts: attempts) {
                    case .success: (node.id, .accepted)
                    case .failure(.remote(let code, _)) where code == ErrorCode.casFail.rawValue: (node.id, .conflict)
                    case .failure(.remote(let code, _)) where code == ErrorCode.sequenceNotMonotonic.rawValue: (node.id, .stale)
                    case .failure: (node.id, .failed)
                    }
                }
            }
            var outcome: [Id: WriteAnswer] = [:]
            for await (node, accepted) in group { outcome[node] = accepted }
            return outcome
        }
    }

    /// What a lookup in `family` asks for: that family's contacts, and the other family's too while
    /// its routing table is still short of K entries (a dual-stack node learns its second network
    /// from the first; asking both always would cut each family to 11 or 9 contacts per answer).
    func want(in family: AddressFamily) -> LookupWant {
        var want: LookupWant = family == .ipv4 ? .ipv4 : .ipv6
        for other in families where other != family && (tables[other]?.count ?? 0) < configuration.k {
            want.formUnion(other == .ipv4 ? .ipv4 : .ipv6)
        }
        return want
    }

    /// The contacts of an answer in `family`, or none if the answer breaks the wire limits (more
    /// than 16 per family, or more than 8 from one global source unit), as the reference does.
    /// Contacts of our other family are pinged, so that table fills up too.
    func acceptableNodes(in body: Message.Body, family: AddressFamily) -> [NodeInfo] {
        let lists: NodeLists
        switch body {
        case .findNodeResponse(let response): lists = response.nodes
        case .findValueResponse(let response): lists = response.nodes
        case .findPeerResponse(let response): lists = response.nodes
        default: return []
        }
        guard Self.withinWireLimits(lists.ipv4), Self.withinWireLimits(lists.ipv6) else {
            counted.nodeListsDiscarded += 1
            return []
        }
        for other in families where other != family && (tables[other]?.count ?? 0) < configuration.k {
            for node in usable(other == .ipv4 ? lists.ipv4 : lists.ipv6) where tables[other]?.entry(for: node.id) == nil {
                pingContact(node)
            }
        }
        return usable(family == .ipv4 ? lists.ipv4 : lists.ipv6)
    }

    private static func withinWireLimits(_ nodes: [NodeInfo]) -> Bool {
        var perUnit: [SourceUnit: Int] = [:]
        for node in nodes where node.address.isGlobalUnicast { perUnit[SourceUnit(node.address), default: 0] += 1 }
        return nodes.count <= RequestAnswerer.maxNodesPerFamily && perUnit.values.allSatisfy { $0 <= RequestAnswerer.maxNodesPerSourceUnit }
    }

    private func usable(_ nodes: [NodeInfo]) -> [NodeInfo] {
        nodes.filter { $0.id != id && $0.port != 0 && (configuration.allowLocal || $0.address.isGlobalUnicast) }
    }
}
