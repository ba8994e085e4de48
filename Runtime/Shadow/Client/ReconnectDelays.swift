/// How long a Shadow client waits before its next try (docs/shadow.md, "Keepalives and
/// reconnection"): 1, 2, 4, 8, 16 s, then 30 s, each ±20 % at random so that the clients of a
/// supernode that restarts do not all come back in the same instant.
public struct ReconnectDelays: Sendable {
    public var steps: [Duration] = [1, 2, 4, 8, 16].map { .seconds($0) }
    public var ceiling: Duration = .seconds(30)
    public var jitter = 0.2

    public init() {}

    /// The wait before try `attempt` (0 is the first retry), with `random` in 0..<1.
    public func delay(attempt: Int, random: Double = Double.random(in: 0..<1)) -> Duration {
        let base = attempt < steps.count ? steps[attempt] : ceiling
        return base * (1 + jitter * (2 * random - 1))
    }
}
