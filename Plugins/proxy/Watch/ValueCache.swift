import CarrierCore
import CarrierPluginSDK

/// Recent answers of value lookups, so a popular value costs one DHT lookup per `ttl` instead of
/// one per request. Concurrent lookups of one id share a single DHT lookup. A value this proxy
/// stores, or that the supernode's DHT storage reports, replaces an older cached one at once, so
/// the cache is only behind for changes made elsewhere on the network, by at most `ttl`.
actor ValueCache {
    /// One answer and when it was looked up.
    private struct Entry {
        var value: Value?
        var fetched: ContinuousClock.Instant
    }

    private let host: CarrierHostAPI
    private let ttl: Duration
    private let maxEntries: Int
    private var entries: [Id: Entry] = [:]
    private var inFlight: [Id: Task<Value?, Error>] = [:]

    init(host: CarrierHostAPI, ttl: Duration, maxEntries: Int = 10_000) {
        self.host = host
        self.ttl = ttl
        self.maxEntries = maxEntries
    }

    /// The value with `id` (nil if the network has none), from the cache when fresh; with `cas`,
    /// only a mutable value with sequence number ≥ `cas`.
    func value(_ id: Id, cas: Int32? = nil) async throws -> Value? {
        let now = ContinuousClock.now
        if let entry = entries[id], now - entry.fetched < ttl, cas == nil || (entry.value?.sequenceNumber ?? -1) >= cas! {
            return entry.value
        }
        if cas != nil { return try await lookup(id, cas: cas) }
        if let running = inFlight[id] { return try await running.value }
        let task = Task { try await lookup(id, cas: nil) }
        inFlight[id] = task
        defer { inFlight[id] = nil }
        return try await task.value
    }

    /// A value known to be current (stored here, or seen in the node's storage): kept unless the
    /// cache holds a newer one.
    func remember(_ value: Value) {
        if let cached = entries[value.id]?.value, cached.sequenceNumber > value.sequenceNumber { return }
        store(value, for: value.id)
    }

    /// The cached version of `id`, however old (nil if none): what this proxy last stored or saw.
    func cached(_ id: Id) -> Value? { entries[id]?.value }

    /// A value seen in the node's storage: replaces a cached older version, and is not added
    /// otherwise (the node stores values for the whole network, most of which nobody asks here).
    func refresh(_ value: Value) {
        guard entries[value.id] != nil else { return }
        remember(value)
    }

    private func lookup(_ id: Id, cas: Int32?) async throws -> Value? {
        let found = try await host.findValue(id.bytes, cas: cas ?? -1).map(Value.init)
        if let found { remember(found) } else if cas == nil { store(nil, for: id) }
        return found
    }

    private func store(_ value: Value?, for id: Id) {
        if entries.count >= maxEntries, entries[id] == nil {
            let now = ContinuousClock.now
            entries = entries.filter { now - $0.value.fetched < ttl }
            if entries.count >= maxEntries, let victim = entries.keys.first { entries[victim] = nil }
        }
        entries[id] = Entry(value: value, fetched: .now)
    }
}
