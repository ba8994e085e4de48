import CarrierCore
import CarrierPluginSDK
import Foundation

/// OpenDHT's get and put on the Carrier DHT: each OpenDHT key's values live in one bucket (a
/// signed mutable Carrier value, see `OpenDHTKey` and `OpenDHTBucket`), one put per key at a time
/// in this proxy. Every store is conditional (`cas`): a storing node that holds a newer bucket
/// than the one the put merged into refuses it, and the put reads again and retries.
///
/// - A key this proxy has not seen is most often new: its bucket is created without reading first
///   (one lookup fewer), with `cas` 0, which any node holding a bucket of the key refuses.
/// - Otherwise the put reads the newest bucket, adds the value and stores the next sequence number.
///
/// Two proxies racing at one key can still split the storing nodes between two versions with the
/// same sequence number; a writer that then reads back its own version can drop the other's
/// value (docs/opendht-mapping.md).
actor OpenDHTStore {
    /// Why a put failed.
    enum PutError: Error, CustomStringConvertible {
        case tooLarge(OpenDHTBucket.TooLarge)
        case network(String)
        /// Too many writes in progress (`WriteGate`).
        case busy(String)
        /// Other writers kept changing the key's bucket.
        case conflict(String)

        var description: String {
            switch self {
            case .tooLarge(let error): error.description
            case .network(let reason), .busy(let reason), .conflict(let reason): reason
            }
        }
    }

    /// How one conditional store went.
    private enum Attempt {
        case stored
        /// A node holds a newer bucket than the one merged into.
        case conflict
        case failed(PutError)
    }

    /// How many times a put reads and stores again after a conflict.
    static let attempts = 3

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
        // After a conflict, the next read must see a version at least this new.
        var atLeast: Int32?
        if await cache.cached(key.valueId) == nil {
            switch await store(value, into: nil, at: key, permanent: permanent) {
            case .stored: return .success(())
            case .conflict: atLeast = 1
            case .failed(let error): return .failure(error)
            }
        }
        for _ in 0..<Self.attempts {
            let current: Value?
            do {
                current = try await newestBucket(at: key, atLeast: atLeast)
            } catch {
                return .failure(.network("the DHT lookup of the key's bucket failed: \(error)"))
            }
            if let atLeast, (current?.sequenceNumber ?? -1) < atLeast {
                return .failure(.conflict("another writer changed the key's bucket, and the lookup did not find its version; try again"))
            }
            switch await store(value, into: current, at: key, permanent: permanent) {
            case .stored: return .success(())
            case .conflict: atLeast = (current?.sequenceNumber ?? 0) + 1
            case .failed(let error): return .failure(error)
            }
        }
        return .failure(.conflict("other writers changed the key's bucket \(Self.attempts) times during this put; try again"))
    }

    /// The newer of what the network answers (with `atLeast`, only a version that new) and what
    /// this proxy stored last: a lookup can answer from a node that has not seen our last put.
    private func newestBucket(at key: OpenDHTKey, atLeast: Int32?) async throws -> Value? {
        let found = try await host.findValue(key.valueId.bytes, cas: atLeast ?? -1).map(Value.init)
        let ours = await cache.cached(key.valueId)
        return [found, ours].compactMap { $0 }.max { $0.sequenceNumber < $1.sequenceNumber }
    }

    /// Stores `current`'s bucket with `value` added at the next sequence number, on condition
    /// that no node holds a version newer than `current` (none: sequence number 0, so buckets
    /// start at 1 and a new one is refused wherever the key has any).
    private func store(_ value: OpenDHTValue, into current: Value?, at key: OpenDHTKey, permanent: Bool) async -> Attempt {
        var bucket = (try? Self.bucket(of: current)) ?? OpenDHTBucket()
        let now = Self.now
        do {
            try bucket.insert(value, expires: now + (permanent ? permanentLifetime : valueLifetime), now: now)
        } catch {
            return .failed(.tooLarge(error))
        }
        // Anyone can sign for a key (its seed is public), including at the greatest sequence
        // number, after which no version can replace it.
        let sequence = current?.sequenceNumber ?? 0
        guard sequence < Int32.max else {
            return .failed(.network("the key's Carrier value is at the greatest sequence number and cannot be replaced"))
        }
        let next = Value.signed(by: key.keyPair, sequenceNumber: sequence + 1, data: bucket.data)
        do {
            // A store that no node accepted throws (refused); one that met a newer version, a conflict.
            _ = try await host.storeValue(DHTValue(next), cas: sequence)
        } catch let failure as CarrierHostAPI.Failure where failure.isConflict {
            return .conflict
        } catch {
            return .failed(.network("the DHT store failed: \(error)"))
        }
        await cache.remember(next)
        await watch.offer(next)
        return .stored
    }

    /// The bucket a Carrier value holds (empty when there is none).
    static func bucket(of value: Value?) throws -> OpenDHTBucket {
        guard let value else { return OpenDHTBucket() }
        return try OpenDHTBucket(data: value.data)
    }

    static var now: Int64 { Int64(Date().timeIntervalSince1970) }
}
