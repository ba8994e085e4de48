import CarrierCore
import CarrierPluginSDK
import Foundation

/// OpenDHT's get and put on the Carrier DHT: each OpenDHT key's values live in one bucket (a
/// signed mutable Carrier value, see `OpenDHTKey` and `OpenDHTBucket`), one put per key at a time
/// in this proxy. Stores are conditional (`cas`, ABI 1.3): a storing node that holds a newer
/// bucket than the one a put added to refuses it, and the put reads again and retries.
///
/// - A key this proxy has not seen is most often new: its bucket is created without reading
///   first (one lookup fewer), at sequence number 1 with `cas` 0, which any node holding a bucket
///   of the key refuses (buckets start at 1).
/// - Otherwise the put reads the newest bucket, adds the value and stores the next sequence
///   number with `cas` at the one it read.
/// - After a conflict, some nodes may have taken the refused version. The next read asks for a
///   newer one first, then for one as new that is not the refused version itself; if the lookup
///   only finds that, the other writer's version sits on nodes it did not reach, and the put
///   answers a conflict rather than store over it (docs/opendht-mapping.md).
///
/// On a host without conditional stores (before ABI 1.3), a put reads and then stores.
actor OpenDHTStore {
    /// Why a put failed.
    enum PutError: Error, CustomStringConvertible {
        case tooLarge(OpenDHTBucket.TooLarge)
        /// Nodes were reached and the lookup or store failed.
        case network(String)
        /// No node answered: the network, not the key, is missing (503, try again).
        case unreachable(String)
        /// Too many writes in progress (`WriteGate`).
        case busy(String)
        /// Other writers kept changing the key's bucket.
        case conflict(String)

        var description: String {
            switch self {
            case .tooLarge(let error): error.description
            case .network(let reason), .unreachable(let reason), .busy(let reason), .conflict(let reason): reason
            }
        }

        /// `what` failed with `error`: unreachable when the host says no node answered.
        static func failed(_ what: String, _ error: any Error) -> PutError {
            if let failure = error as? CarrierHostAPI.Failure, failure.isUnreachable {
                return .unreachable("\(what): no node could be reached (\(error))")
            }
            return .network("\(what): \(error)")
        }
    }

    /// How one store went.
    private enum Attempt {
        case stored
        /// A node holds a newer bucket than the one added to; the refused version.
        case conflict(Value)
        case failed(PutError)
    }

    /// The most rounds of reading and storing one put makes (each conflict starts another).
    static let rounds = 3

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
        guard host.supportsConditionalStore else { return await storeWithoutCondition(value, at: key, permanent: permanent) }
        // The last version a node refused, if any.
        var refused: Value?
        if await cache.cached(key.valueId) == nil {
            switch await store(value, into: nil, at: key, permanent: permanent, conditional: true) {
            case .stored: return .success(())
            case .conflict(let attempt): refused = attempt
            case .failed(let error): return .failure(error)
            }
        }
        for _ in 0..<Self.rounds {
            let current: Value?
            do {
                if let refused {
                    guard let other = try await version(at: key, besides: refused) else {
                        return .failure(.conflict("another writer changed the key's bucket at the same moment, on nodes this lookup did not reach; try again"))
                    }
                    current = other
                } else {
                    current = try await newestBucket(at: key, atLeast: nil)
                }
            } catch {
                return .failure(.failed("the DHT lookup of the key's bucket failed", error))
            }
            switch await store(value, into: current, at: key, permanent: permanent, conditional: true) {
            case .stored: return .success(())
            case .conflict(let attempt): refused = attempt
            case .failed(let error): return .failure(error)
            }
        }
        return .failure(.conflict("other writers changed the key's bucket in each of \(Self.rounds) rounds of this put; try again"))
    }

    /// After `refused` met a newer version somewhere: a version newer than it if the lookup finds
    /// one, else one as new that is not `refused` itself; nil if it finds neither.
    private func version(at key: OpenDHTKey, besides refused: Value) async throws -> Value? {
        if refused.sequenceNumber < Int32.max, let newer = try await newestBucket(at: key, atLeast: refused.sequenceNumber + 1) {
            return newer
        }
        let asNew = try await newestBucket(at: key, atLeast: refused.sequenceNumber)
        return asNew == refused ? nil : asNew
    }

    /// A put on a host without conditional stores: the newest bucket, then the next version.
    private func storeWithoutCondition(_ value: OpenDHTValue, at key: OpenDHTKey, permanent: Bool) async -> Result<Void, PutError> {
        let current: Value?
        do {
            current = try await newestBucket(at: key, atLeast: nil)
        } catch {
            return .failure(.failed("the DHT lookup of the key's bucket failed", error))
        }
        switch await store(value, into: current, at: key, permanent: permanent, conditional: false) {
        case .stored: return .success(())
        case .conflict: return .failure(.conflict("a storing node holds a newer version of the key's bucket; try again"))
        case .failed(let error): return .failure(error)
        }
    }

    /// The newer of what the network answers and what this proxy stored last (a lookup can
    /// answer from a node that has not seen our last put); with `atLeast`, only a version that new.
    private func newestBucket(at key: OpenDHTKey, atLeast: Int32?) async throws -> Value? {
        let found = try await host.findValue(key.valueId.bytes, cas: atLeast ?? -1).map(Value.init)
        let ours = await cache.cached(key.valueId)
        return [found, ours].compactMap { $0 }.filter { $0.sequenceNumber >= (atLeast ?? Int32.min) }.max { $0.sequenceNumber < $1.sequenceNumber }
    }

    /// Stores `current`'s bucket with `value` added, at the next sequence number (1 when there is
    /// none). `conditional`: only where no node holds a version newer than `current` (`cas` at
    /// its sequence number, or 0).
    private func store(_ value: OpenDHTValue, into current: Value?, at key: OpenDHTKey, permanent: Bool, conditional: Bool) async -> Attempt {
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
            _ = try await host.storeValue(DHTValue(next), cas: conditional ? sequence : nil)
        } catch let failure as CarrierHostAPI.Failure where failure.isConflict {
            return .conflict(next)
        } catch {
            return .failed(.failed("the DHT store failed", error))
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
