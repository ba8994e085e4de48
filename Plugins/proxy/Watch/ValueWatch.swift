import CarrierCore
import CarrierHTTP
import CarrierPluginSDK

/// Tells listeners when a DHT value changes. A Kademlia DHT does not push changes, so a change
/// reaches a listener in one of three ways: this proxy stored it (at once), the supernode's own
/// DHT storage received it (at once, through the host's events), or the periodic `poll` finds a
/// newer sequence number on the network (within `pollInterval`).
///
/// Listeners are called synchronously and must not block: each hands the value to its own
/// connection's buffer (`HTTPStream`, `WebSocketConnection`), which drops a client that does not
/// read, so one slow listener never delays the others.
actor ValueWatch {
    typealias Listener = @Sendable (Value) -> Void

    /// One watched id: the newest version seen, and who listens.
    private struct Watched {
        var latest: Value?
        var listeners: [UInt64: Listener] = [:]
    }

    private let host: CarrierHostAPI
    /// Ids watched at once across all clients: each costs a lookup every poll round.
    static let maxIds = 10_000
    /// How many ids one `poll` looks up at once.
    private let pollConcurrency = 16
    private var watched: [Id: Watched] = [:]
    private var nextToken: UInt64 = 0

    init(host: CarrierHostAPI) {
        self.host = host
    }

    /// Whether `id` can be watched now (it is, or there is room for one more id).
    func hasRoom(for id: Id) -> Bool { watched[id] != nil || watched.count < Self.maxIds }

    /// How many listeners are registered, over how many ids.
    var counts: (listeners: Int, ids: Int) { (watched.values.reduce(0) { $0 + $1.listeners.count }, watched.count) }

    /// Calls `listener` with every version of value `id` newer than what the listener has seen:
    /// `known`, and at least `knownSequence` (a resuming client's last seq); returns a token for
    /// `unwatch`, or nil when `maxIds` other ids are watched already.
    func watch(_ id: Id, known: Value?, knownSequence: Int32? = nil, _ listener: @escaping Listener) -> UInt64? {
        guard watched[id] != nil || watched.count < Self.maxIds else { return nil }
        nextToken += 1
        var entry = watched[id] ?? Watched()
        if let known, Self.isNewer(known, than: entry.latest) { entry.latest = known }
        entry.listeners[nextToken] = listener
        watched[id] = entry
        if let latest = entry.latest, Self.isNewer(latest, than: known),
           knownSequence.map({ latest.publicKey != nil && latest.sequenceNumber > $0 }) ?? true {
            listener(latest)
        }
        return nextToken
    }

    func unwatch(_ id: Id, token: UInt64) {
        watched[id]?.listeners[token] = nil
        if watched[id]?.listeners.isEmpty == true { watched[id] = nil }
    }

    /// A version of a value seen somewhere (stored here, an event, a poll): listeners of its id
    /// hear of it if it is newer than what they have.
    func offer(_ value: Value) {
        let id = value.id
        guard var entry = watched[id], Self.isNewer(value, than: entry.latest) else { return }
        entry.latest = value
        watched[id] = entry
        for listener in entry.listeners.values { listener(value) }
    }

    /// Looks every watched id up on the network (asking only for a greater sequence number than
    /// the one known) and offers what it finds.
    func poll() async {
        // An immutable value, once seen, never changes: only mutable or not yet seen ones are polled.
        let targets = watched.compactMap { id, entry -> (id: Id, cas: Int32)? in
            guard let latest = entry.latest else { return (id, -1) }
            return latest.publicKey == nil || latest.sequenceNumber == Int32.max ? nil : (id, latest.sequenceNumber + 1)
        }
        let host = self.host
        var found: [Value] = []
        for start in stride(from: 0, to: targets.count, by: pollConcurrency) {
            let batch = targets[start..<min(start + pollConcurrency, targets.count)]
            found += await withTaskGroup(of: Value?.self) { group in
                for target in batch {
                    group.addTask { (try? await host.findValue(target.id.bytes, cas: target.cas)).flatMap { $0 }.map(Value.init) }
                }
                var values: [Value] = []
                for await value in group { if let value { values.append(value) } }
                return values
            }
        }
        for value in found { offer(value) }
    }

    /// Whether `value` should replace `known`: a first sighting, or a greater sequence number
    /// (an immutable value never changes once seen).
    private static func isNewer(_ value: Value, than known: Value?) -> Bool {
        guard let known else { return true }
        return value.publicKey != nil && value.sequenceNumber > known.sequenceNumber
    }
}
