/// When a node cut off from the network tries to reconnect: a pure schedule on the caller's clock
/// (milliseconds), so the node and its tests run the same rules.
///
/// While a family has no live contact, the node pings its bootstrap list and its saved contacts at
/// 1, 2, 4 and 8 seconds, then every 15 seconds, each delay jittered by ±20% so that nodes cut off
/// together (a supernode's clients after its restart) do not come back in step. The 15-second cap
/// bounds both the recovery time once a contact is back (under 30 s, the promise) and the
/// cost of a dead network: one round of at most `DHTNode.maxReconnectCandidates` pings per cap.
/// Contacts that are merely dead, while others live, keep their own backoff (`RoutingEntry`).
public struct ReconnectSchedule: Sendable {
    /// The first delay, doubled per attempt up to `maxDelay`.
    public static let firstDelay: Int64 = 1_000
    public static let maxDelay: Int64 = 15_000
    /// Each delay is multiplied by a factor drawn from this range.
    public static let jitter: ClosedRange<Double> = 0.8...1.2

    /// Attempts since the node was last connected.
    public private(set) var attempts = 0
    /// When the next attempt is due; nil while connected.
    public private(set) var nextAttempt: Int64?
    /// When the last attempt was made; nil while connected.
    public private(set) var lastAttempt: Int64?
    /// Whether the family was ever seen connected: a round that succeeds is then a reconnection,
    /// worth telling the operator, and otherwise only the node's first join.
    public private(set) var wasConnected = false

    public init() {}

    /// Whether to attempt a reconnection at `now`, given whether the family has a live contact. A
    /// `true` answer counts as the attempt and schedules the next one.
    public mutating func isDue(now: Int64, connected: Bool, random: () -> Double = { Double.random(in: jitter) }) -> Bool {
        guard !connected else {
            wasConnected = true
            attempts = 0
            nextAttempt = nil
            lastAttempt = nil
            return false
        }
        guard let due = nextAttempt else {
            // Just found cut off: the first attempt waits a jittered first delay, so a node that
            // is still bootstrapping (or whose contact only missed one ping) is not doubled up on.
            nextAttempt = now + Int64(Double(Self.firstDelay) * random())
            return false
        }
        guard now >= due else { return false }
        attempts += 1
        lastAttempt = now
        nextAttempt = now + Int64(Double(delay(after: attempts)) * random())
        return true
    }

    /// An operation found no contact to start from: the next attempt may come at once, unless one
    /// was made within the first delay.
    public mutating func expedite(now: Int64) {
        if let lastAttempt, now - lastAttempt < Self.firstDelay { return }
        nextAttempt = min(nextAttempt ?? now, now)
    }

    /// The delay after attempt number `attempt` (1-based), before jitter.
    public func delay(after attempt: Int) -> Int64 {
        min(Self.maxDelay, Self.firstDelay << Int64(min(attempt, 8)))
    }
}
