import CarrierCore

/// Answers DHT requests from the routing tables, the token manager and storage, with the
/// reference's rules (BOSON-WIRE.md §6, §7, §9). No I/O: the transport hands it a decoded request
/// and the sender, and sends back what it returns.
public struct RequestAnswerer: Sendable {
    /// Most contacts per address family in one answer (the wire rule).
    public static let maxNodesPerFamily = 16
    /// Most contacts from one global source unit in one answer (the wire rule).
    public static let maxNodesPerSourceUnit = 8
    /// Most peer records in one FIND_PEER answer.
    public static let maxPeersPerAnswer = 8

    public let tokens: TokenManager
    public let storage: DHTStorage
    /// Whether writes from loopback and private addresses are accepted (local testnets).
    public let allowLocal: Bool

    public init(tokens: TokenManager = TokenManager(), storage: DHTStorage, allowLocal: Bool) {
        self.tokens = tokens
        self.storage = storage
        self.allowLocal = allowLocal
    }

    /// How a request is answered.
    public enum Outcome: Sendable, Equatable {
        /// With this answer, now.
        case reply(Message.Body)
        /// A write with a valid token: `whenDurable` gets the answer (see `answer`).
        case afterWrite
        /// Not at all: the protocol says not to answer.
        case none
    }

    /// How to answer `request` from `sender`, who reached us over `family`. A write (STORE_VALUE,
    /// ANNOUNCE_PEER) is answered through `whenDurable`, on the storage's writer thread once it
    /// is durable (or at once, on this thread, when it is invalid or the storage is busy); every
    /// other answer is returned. `now` is the token clock, `wallClock` the storage clock, both in ms.
    public func answer(_ request: Message.Body, from sender: NodeInfo, family: AddressFamily,
                       ipv4: RoutingTable?, ipv6: RoutingTable?, now: Int64, wallClock: Int64,
                       whenDurable: @escaping @Sendable (Message.Body) -> Void) -> Outcome {
        switch request {
        case .storeValueRequest(let store):
            return write(request, token: store.token, target: store.value.id, from: sender, now: now,
                         success: .storeValueResponse, whenDurable: whenDurable) { done in
                storage.putValue(store.value, cas: store.cas, now: wallClock, completion: done)
            }
        case .announcePeerRequest(let announce):
            // The reference ignores announcements from addresses that are not global unicast.
            guard allowLocal || sender.address.isGlobalUnicast else { return .none }
            return write(request, token: announce.token, target: announce.peer.peerId, from: sender, now: now,
                         success: .announcePeerResponse, whenDurable: whenDurable) { done in
                storage.putPeer(announce.peer, cas: announce.cas, now: wallClock, completion: done)
            }
        default:
            return read(request, from: sender, family: family, ipv4: ipv4, ipv6: ipv6, now: now, wallClock: wallClock)
                .map(Outcome.reply) ?? .none
        }
    }

    /// The answer to a PING or a FIND_*; nil for anything else (responses and errors are not
    /// requests, and writes are answered by `answer`).
    private func read(_ request: Message.Body, from sender: NodeInfo, family: AddressFamily,
                      ipv4: RoutingTable?, ipv6: RoutingTable?, now: Int64, wallClock: Int64) -> Message.Body? {
        func nodes(for target: Id, want: LookupWant) -> NodeLists {
            // Both families in one answer must fit one datagram: 11 (IPv4 socket) or 9 (IPv6) each.
            let both = want.contains(.ipv4) && want.contains(.ipv6)
            let perFamily = both ? (family == .ipv4 ? 11 : 9) : Self.maxNodesPerFamily
            // No family asked for: answer in the family of the socket, as the reference does.
            let wantIPv4 = want.contains(.ipv4) || (!want.contains(.ipv6) && family == .ipv4)
            let wantIPv6 = want.contains(.ipv6) || (!want.contains(.ipv4) && family == .ipv6)
            return NodeLists(ipv4: wantIPv4 ? Self.closest(ipv4, to: target, count: perFamily) : [],
                             ipv6: wantIPv6 ? Self.closest(ipv6, to: target, count: perFamily) : [])
        }
        switch request {
        case .pingRequest:
            return .pingResponse
        case .findNodeRequest(let query):
            let token = query.want.contains(.token)
                ? tokens.token(for: sender.id, address: sender.address, port: sender.port, target: query.target, now: now) : 0
            return .findNodeResponse(FindNodeResponse(nodes: nodes(for: query.target, want: query.want), token: token))
        case .findValueRequest(let query):
            do {
                if let value = try storage.value(query.target, cas: query.cas, now: wallClock) {
                    return .findValueResponse(FindValueResponse(value: value))
                }
            } catch {
                return Self.errorReply(request, ProtocolError(.ioError, "storage: \(error)"))
            }
            return .findValueResponse(FindValueResponse(nodes: nodes(for: query.target, want: query.want)))
        case .findPeerRequest(let query):
            let wanted = query.expectedCount > 0 ? min(Int(query.expectedCount), Self.maxPeersPerAnswer) : Self.maxPeersPerAnswer
            do {
                // Peers alone when there are any, nodes only when there are none: the protocol's
                // rule, and what the reference sends (a strict peer refuses the two together).
                let peers = try storage.peers(query.target, cas: query.cas, limit: wanted, now: wallClock)
                guard peers.isEmpty else { return .findPeerResponse(FindPeerResponse(nodes: NodeLists(), peers: peers)) }
                return .findPeerResponse(FindPeerResponse(nodes: nodes(for: query.target, want: query.want), peers: []))
            } catch {
                return Self.errorReply(request, ProtocolError(.ioError, "storage: \(error)"))
            }
        default:
            return nil
        }
    }

    /// A STORE_VALUE or ANNOUNCE_PEER: the token first (400, answered now), then the storage
    /// rules, answered through `whenDurable` once the write is durable or refused.
    private func write(_ request: Message.Body, token: Int32, target: Id, from sender: NodeInfo, now: Int64, success: Message.Body,
                       whenDurable: @escaping @Sendable (Message.Body) -> Void,
                       _ store: (@escaping @Sendable (Result<Bool, ProtocolError>) -> Void) -> Void) -> Outcome {
        guard tokens.verify(token, for: sender.id, address: sender.address, port: sender.port, target: target, now: now) else {
            return .reply(Self.errorReply(request, ProtocolError(.invalidToken, "invalid or expired token")))
        }
        store { result in
            switch result {
            case .success: whenDurable(success)
            case .failure(let error): whenDurable(Self.errorReply(request, error))
            }
        }
        return .afterWrite
    }

    /// An error reply to `request`: it names the request's method.
    private static func errorReply(_ request: Message.Body, _ failure: ProtocolError) -> Message.Body {
        .error(method: request.method, ErrorBody(failure))
    }

    /// The closest eligible contacts, at most `count`, and at most 8 from any one global source unit.
    /// The routing table's own diversity bound normally makes the first `count` comply; only a
    /// table without it (a local testnet) may need the longer walk.
    static func closest(_ table: RoutingTable?, to target: Id, count: Int) -> [NodeInfo] {
        guard let table else { return [] }
        let nearest = table.closest(to: target, count: count)
        if withinSourceUnitLimit(nearest) { return nearest }
        var perUnit: [SourceUnit: Int] = [:]
        var chosen: [NodeInfo] = []
        for node in table.closest(to: target, count: table.count) where chosen.count < count {
            if node.address.isGlobalUnicast {
                let unit = SourceUnit(node.address)
                guard perUnit[unit, default: 0] < maxNodesPerSourceUnit else { continue }
                perUnit[unit, default: 0] += 1
            }
            chosen.append(node)
        }
        return chosen
    }

    private static func withinSourceUnitLimit(_ nodes: [NodeInfo]) -> Bool {
        var perUnit: [SourceUnit: Int] = [:]
        for node in nodes where node.address.isGlobalUnicast {
            perUnit[SourceUnit(node.address), default: 0] += 1
            if perUnit[SourceUnit(node.address)]! > maxNodesPerSourceUnit { return false }
        }
        return true
    }
}
