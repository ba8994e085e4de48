/// Polls `condition` every 20 ms until it holds or `limit` has passed; whether it held. For tests
/// that wait on the network (pings in flight, records being published).
public func eventually(within limit: Duration = .seconds(5), _ condition: () async -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + limit
    repeat {
        if await condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    } while ContinuousClock.now < deadline
    return await condition()
}
