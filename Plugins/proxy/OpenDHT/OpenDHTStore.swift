import CarrierCore
import CarrierPluginSDK
import Foundation

/// OpenDHT's get and put on the Carrier DHT: each OpenDHT key's values live in one bucket (a
/// signed mutable Carrier value, see `OpenDHTKey` and `OpenDHTBucket`). A put reads the bucket's
/// newest version from the network, adds the value, and stores the next sequence number, one put
/// per key at a time in this proxy. Two proxies putting at one key within one lookup's time can
/// race; the storing nodes keep the greater sequence number, so one of the two values can be
/// lost (docs/opendht-mapping.md).
actor OpenDHTStore {
    /// Why a put failed.
    enum PutError: Error, CustomStringConvertible {
        case tooLarge(OpenDHTBucket.TooLarge)
        case network(String)
        /// Too many writes in progress (`WriteGate`).
        case busy(String)

        var description: String {
            switch self {
            case .tooLarge(let error): error.description
            case .network(let reason), .busy(let reason): reason
            }
        }
    }

    /// How long a value lives (OpenDHT's default type lives 600 s), and a permanent put between
    /// refreshes (its clients refresh permanent puts every 55 minutes, so at least 3600 s).
    let valueLifetime: Int64
    var permanentLifetime: Int64 { max(3600, valueLifetime) }

    private let host: CarrierHostAPI
    private let cache: ValueCache
    private let watch: ValueWatch
    private let writes: WriteGate
    /// The last put queued for each key (the next waits for it), with a token telling whose it is.
    private var putting: [OpenDHTKey: (token: UInt64, done: Task<Void, Never>)] = [:]
    private var nextToken: UInt64 = 0
    private(set) var putCount = 0
    private(set) var permanentPutCount = 0

    init(host: CarrierHostAPI, cache: ValueCache, watch: ValueWatch, writes: WriteGate, valueLifetime: Int64 = 600) {
        self.valueLifetime = valueLifetime
        self.writes = writes
        self.host = host
        self.cache = cache
        self.watch = watch
    }

    /// The live values at `key` (cached lookups).
    func values(at key: OpenDHTKey) async throws -> [OpenDHTValue] {
        try Self.bucket(of: try await cache.value(key.valueId)).live(at: Self.now).map(\.value)
    }

    /// Puts `value` at `key` (an id of 0 gets a random one); returns the value as stored.
    func put(_ value: OpenDHTValue, at key: OpenDHTKey, permanent: Bool) async throws(PutError) -> OpenDHTValue {
        var value = value
        while value.id == 0 { value.id = Sodium.randomUInt64() }
        nextToken += 1
        let token = nextToken, previous = putting[key]?.done, stored = value
        let result = Task { () -> Result<Void, PutError> in
            await previous?.value
            return await self.store(stored, at: key, permanent: permanent)
        }
        putting[key] = (token, Task { _ = await result.value })
        // Failed puts count too: OpenDHT's putCount counts requests.
        let outcome = await result.value
        if putting[key]?.token == token { putting[key] = nil }
        putCount += 1
        if permanent { permanentPutCount += 1 }
        try outcome.get()
        return value
    }

    private func store(_ value: OpenDHTValue, at key: OpenDHTKey, permanent: Bool) async -> Result<Void, PutError> {
        await writes.run { await storeBucket(value, at: key, permanent: permanent) } ?? .failure(.busy(writes.busyMessage))
    }

    private func storeBucket(_ value: OpenDHTValue, at key: OpenDHTKey, permanent: Bool) async -> Result<Void, PutError> {
        let current: Value?
        do {
            // The newer of what the network answers and what this proxy stored last: a lookup can
            // answer from a node that has not seen our previous put yet.
            let found = try await host.findValue(key.valueId.bytes).map(Value.init)
            let ours = await cache.cached(key.valueId)
            current = [found, ours].compactMap { $0 }.max { $0.sequenceNumber < $1.sequenceNumber }
        } catch {
            return .failure(.network("the DHT lookup of the key's bucket failed: \(error)"))
        }
        var bucket = (try? Self.bucket(of: current)) ?? OpenDHTBucket()
        let now = Self.now
        do {
            try bucket.insert(value, expires: now + (permanent ? permanentLifetime : valueLifetime), now: now)
        } catch {
            return .failure(.tooLarge(error))
        }
        // Anyone can sign for a key (its seed is public), including at the greatest sequence
        // number, after which no version can replace it.
        let sequence = current?.sequenceNumber ?? -1
        guard sequence < Int32.max else {
            return .failure(.network("the key's Carrier value is at the greatest sequence number and cannot be replaced"))
        }
        let next = Value.signed(by: key.keyPair, sequenceNumber: sequence + 1, data: bucket.data)
        do {
            // A store that no node accepted throws (refused).
            _ = try await host.storeValue(DHTValue(next))
        } catch {
            return .failure(.network("the DHT store failed: \(error)"))
        }
        await cache.remember(next)
        await watch.offer(next)
        return .success(())
    }

    /// The bucket a Carrier value holds (empty when there is none).
    static func bucket(of value: Value?) throws -> OpenDHTBucket {
        guard let value else { return OpenDHTBucket() }
        return try OpenDHTBucket(data: value.data)
    }

    static var now: Int64 { Int64(Date().timeIntervalSince1970) }
}
