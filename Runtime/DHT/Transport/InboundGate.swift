import CarrierCore
import Synchronization

/// The inbound rate limit, applied on the socket's event loop before a datagram is copied or
/// queued, so a flood from one source is dropped where it arrives and cannot fill the shared queue
/// that every other source's datagrams wait in (issue #12).
///
/// Two tiers per source unit (`RateKey`): an endpoint that answered one of our requests recently
/// (`AnsweredEndpoints`) gets the contact allowance, any other the stranger's. The node records
/// answers (`recordAnswer`) from its actor; the transports ask `admit` from their event loops.
///
/// Thread contract: every method may be called from any thread; the state is behind one lock,
/// held for a hash lookup and a few arithmetic operations.
public final class InboundGate: Sendable {
    private struct State {
        var strangers: TokenBuckets<RateKey>
        var contacts: TokenBuckets<RateKey>
        var answered = AnsweredEndpoints()
    }

    private let state: Mutex<State>
    private let started = ContinuousClock.now
    private let dropped = Atomic<Int>(0)

    public init(strangerRate: Double, strangerBurst: Double, contactRate: Double, contactBurst: Double) {
        state = Mutex(State(strangers: TokenBuckets(rate: strangerRate, burst: strangerBurst),
                            contacts: TokenBuckets(rate: contactRate, burst: contactBurst)))
    }

    /// Milliseconds since the gate was made (its clock for buckets and answers).
    public var now: Int64 { (ContinuousClock.now - started).milliseconds }

    /// Whether a datagram from `source` may go on: nil if so, else the instant before which its
    /// source unit has no token (the transport drops that source's datagrams until then without
    /// asking again). A refused one is counted in `throttled`.
    public func admit(_ source: Endpoint) -> ContinuousClock.Instant? {
        let now = self.now, key = RateKey(source)
        let wait = state.withLock { state in
            state.answered.contains(source, now: now) ? state.contacts.take(key, now: now) : state.strangers.take(key, now: now)
        }
        guard wait > 0 else { return nil }
        dropped.add(1, ordering: .relaxed)
        return started + .milliseconds(now + wait)
    }

    /// Datagrams refused here (the transports count those they refused on their own).
    public var throttled: Int { dropped.load(ordering: .relaxed) }

    /// `endpoint` answered one of our requests now.
    func recordAnswer(from endpoint: Endpoint) {
        let now = self.now
        state.withLock { $0.answered.record(endpoint, now: now) }
    }

    /// Whether `endpoint`'s last answer is half its allowance's lifetime old (or it has none).
    func needsRenewal(_ endpoint: Endpoint) -> Bool {
        let now = self.now
        return state.withLock { $0.answered.needsRenewal(endpoint, now: now) }
    }

    /// How many endpoints hold the contact allowance.
    var answeredCount: Int { state.withLock { $0.answered.count } }
}

/// What the rate limiters count by: a global source unit, or the endpoint of a local address
/// (on a testnet, each port is its own source).
enum RateKey: Hashable, Sendable {
    case unit(SourceUnit)
    case endpoint(Endpoint)

    init(_ endpoint: Endpoint) {
        self = endpoint.address.isGlobalUnicast ? .unit(SourceUnit(endpoint.address)) : .endpoint(endpoint)
    }
}
