import CarrierCore
import CarrierPluginSDK

/// Tells listeners when the peer records under a peer id change: a new announcer, or a greater
/// sequence number from one already known. Like `ValueWatch`, it learns of changes from the
/// node's storage events (at once) and from `poll` (every poll round); listeners must not block.
actor PeerWatch {
    typealias Listener = @Sendable ([PeerInfo]) -> Void

    /// One watched peer id: its records by announcer (hosting node and fingerprint), and who listens.
    private struct Watched {
        var records: [Announcer: PeerInfo] = [:]
        var listeners: [UInt64: Listener] = [:]
    }

    /// Who announced a record: a peer may be announced by several nodes, each with its fingerprint.
    private struct Announcer: Hashable {
        let node: Id?
        let fingerprint: Int64
    }

    private let host: CarrierHostAPI
    /// Peer ids watched at once across all clients: each costs a lookup every poll round.
    static let maxIds = 10_000
    private var watched: [Id: Watched] = [:]
    private var nextToken: UInt64 = 0

    init(host: CarrierHostAPI) {
        self.host = host
    }

    /// Whether `id` can be watched now (it is, or there is room for one more id).
    func hasRoom(for id: Id) -> Bool { watched[id] != nil || watched.count < Self.maxIds }

    /// How many listeners are registered.
    var listenerCount: Int { watched.values.reduce(0) { $0 + $1.listeners.count } }

    /// Calls `listener` with all the records of `id` whenever they change after `known` (which
    /// the caller has already shown it; the other listeners hear of what is new in it); nil when
    /// `maxIds` other ids are watched already.
    func watch(_ id: Id, known: [PeerInfo], _ listener: @escaping Listener) -> UInt64? {
        guard watched[id] != nil || watched.count < Self.maxIds else { return nil }
        if watched[id] == nil { watched[id] = Watched() }
        offer(known, for: id)
        nextToken += 1
        watched[id]?.listeners[nextToken] = listener
        return nextToken
    }

    func unwatch(_ id: Id, token: UInt64) {
        watched[id]?.listeners[token] = nil
        if watched[id]?.listeners.isEmpty == true { watched[id] = nil }
    }

    /// Records seen somewhere (an event, a poll): listeners of `id` hear of the whole set if any
    /// record is new or newer.
    func offer(_ records: [PeerInfo], for id: Id) {
        guard var entry = watched[id] else { return }
        var changed = false
        for record in records where record.peerId == id && record.isValid {
            let announcer = Announcer(node: record.nodeId, fingerprint: record.fingerprint)
            if let known = entry.records[announcer], known.sequenceNumber >= record.sequenceNumber { continue }
            entry.records[announcer] = record
            changed = true
        }
        watched[id] = entry
        guard changed else { return }
        let all = entry.records.values.sorted { $0.sequenceNumber > $1.sequenceNumber }
        for listener in entry.listeners.values { listener(all) }
    }

    /// Looks every watched peer id up on the network, 16 at a time, and offers what it finds.
    func poll() async {
        let host = self.host, ids = Array(watched.keys)
        for start in stride(from: 0, to: ids.count, by: 16) {
            let found = await withTaskGroup(of: (Id, [PeerInfo]).self) { group in
                for id in ids[start..<min(start + 16, ids.count)] {
                    group.addTask { (id, ((try? await host.findPeers(id.bytes)) ?? []).compactMap(PeerInfo.init)) }
                }
                var all: [(Id, [PeerInfo])] = []
                for await result in group { all.append(result) }
                return all
            }
            for (id, records) in found { offer(records, for: id) }
        }
    }
}
