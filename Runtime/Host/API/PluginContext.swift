import CarrierCore
import CarrierDHT
import CarrierPluginABI
import Dispatch
import Foundation
import Synchronization

/// The host's side of one plugin instance: its executor, its configuration, and every host-API
/// operation it may call. The `carrier_host *` handed to the plugin points at this object.
///
/// Threads: every call into the plugin runs on `executor` (a serial queue). Host-API operations
/// may come from any thread; they only touch `state` under its lock and hand results back to the
/// executor. Contexts are kept alive for the life of the process (see `retainForever`), so a
/// plugin thread that calls the host after its instance was destroyed gets CARRIER_ERR_SHUTTING_DOWN,
/// never a dangling pointer.
public final class PluginContext: @unchecked Sendable {
    // @unchecked: the C strings are written once in init and freed never; mutable state is in `state`.

    /// Where the instance is in its life.
    enum Phase: Sendable { case creating, created, running, stopping, stopped }

    private struct State {
        var phase = Phase.creating
        var meters: [String: String] = [:]
        var timers: [UInt64: DispatchSourceTimer] = [:]
        var nextTimer: UInt64 = 1
        /// Outstanding asynchronous calls: each is told CARRIER_ERR_SHUTTING_DOWN if the instance stops first.
        var pendingCalls: [UInt64: @Sendable () -> Void] = [:]
        var nextCall: UInt64 = 1
        var eventTask: Task<Void, Never>?
        /// The `destroy` of user data the plugin handed over (`*_owned` calls), by what owns it;
        /// each runs once on the executor, at the latest in `releaseAfterStop`.
        var ownedByPost: [UInt64: @Sendable () -> Void] = [:]
        var ownedByTimer: [UInt64: @Sendable () -> Void] = [:]
        var ownedBySubscription: (@Sendable () -> Void)?
        /// Releases due (a cancelled timer's) but not yet run on the executor.
        var releasesDue: [UInt64: @Sendable () -> Void] = [:]
        var nextOwned: UInt64 = 1
    }

    public let pluginId: String
    /// Where the host-API calls go: the host itself, or the host through a runner's socket.
    let services: any PluginServices
    let executor: DispatchQueue
    let configJSON: UnsafeMutablePointer<CChar>
    /// The same config, read by key.
    let config: PluginConfig
    let storageDirectory: UnsafeMutablePointer<CChar>
    private let state = Mutex(State())

    private static let everyContext = Mutex<[PluginContext]>([])

    /// A context for `manifest`'s plugin whose private folder is `<dataDirectory>/plugins/<id>`.
    init(manifest: PluginManifest, services: any PluginServices, dataDirectory: String) throws {
        pluginId = manifest.id
        self.services = services
        executor = DispatchQueue(label: "carrier.plugin.\(manifest.id)")
        let directory = "\(dataDirectory)/plugins/\(manifest.id)"
        try DataDirectory.create(directory)
        configJSON = strdup(manifest.configJSON)
        config = PluginConfig(json: manifest.configJSON)
        storageDirectory = strdup(directory)
        Self.everyContext.withLock { $0.append(self) }
    }

    /// The opaque handle the plugin passes back.
    var handle: OpaquePointer { OpaquePointer(Unmanaged.passUnretained(self).toOpaque()) }

    /// The context behind a handle.
    static func from(_ handle: OpaquePointer?) -> PluginContext? {
        handle.map { Unmanaged<PluginContext>.fromOpaque(UnsafeRawPointer($0)).takeUnretainedValue() }
    }

    var phase: Phase { state.withLock { $0.phase } }

    /// Moves to `next` unless the instance is already stopped (stopped is final: an instance
    /// abandoned after a timeout must not come back when its late call returns). False if stopped.
    @discardableResult
    func advance(to next: Phase) -> Bool {
        state.withLock { state in
            guard state.phase != .stopped else { return false }
            state.phase = next
            return true
        }
    }

    /// Stops the instance for good (after a timeout, or when create fails).
    func markStopped() { state.withLock { $0.phase = .stopped } }

    /// Whether asynchronous work may still be started for the plugin.
    var isLive: Bool { state.withLock { $0.phase == .created || $0.phase == .running || $0.phase == .creating } }

    /// Why DHT calls, timers and subscriptions cannot start now: UNSUPPORTED during `create`,
    /// SHUTTING_DOWN from `stop` on; nil once created and until stopping.
    private static func refusal(of phase: Phase) -> carrier_status? {
        switch phase {
        case .created, .running: nil
        case .creating: CARRIER_ERR_UNSUPPORTED
        case .stopping, .stopped: CARRIER_ERR_SHUTTING_DOWN
        }
    }

    // MARK: Asynchronous calls

    /// Runs `operation` off the executor; its result is handed to `deliver` on the executor, or,
    /// if the instance stops first, `abandon` is called there instead. Exactly one of them runs.
    func startCall<Result: Sendable>(_ operation: @escaping @Sendable () async -> Result,
                                     deliver: @escaping @Sendable (Result) -> Void,
                                     abandon: @escaping @Sendable () -> Void) -> carrier_status {
        let started: Swift.Result<UInt64, Refusal> = state.withLock { state in
            if let refused = Self.refusal(of: state.phase) { return .failure(Refusal(status: refused)) }
            let call = state.nextCall
            state.nextCall += 1
            state.pendingCalls[call] = abandon
            return .success(call)
        }
        guard case .success(let call) = started else { return Self.status(of: started) }
        Task {
            let result = await operation()
            executor.async { [self] in
                guard state.withLock({ $0.pendingCalls.removeValue(forKey: call) }) != nil else { return }
                deliver(result)
            }
        }
        return CARRIER_OK
    }

    /// A status other than OK, carried through a `Result`.
    struct Refusal: Error { let status: carrier_status }

    private static func status<Success>(of result: Swift.Result<Success, Refusal>) -> carrier_status {
        switch result {
        case .success: CARRIER_OK
        case .failure(let refusal): refusal.status
        }
    }

    // MARK: Executor

    /// Runs `task` on the executor unless the instance stops first; `release` (of user data the
    /// plugin handed over) runs once on the executor after the task ran or was dropped.
    func post(_ task: @escaping @Sendable () -> Void, release: (@Sendable () -> Void)? = nil) -> carrier_status {
        let owned: UInt64?? = state.withLock { state in
            guard state.phase != .stopping && state.phase != .stopped else { return .none }
            guard let release else { return .some(nil) }
            let id = state.nextOwned
            state.nextOwned += 1
            state.ownedByPost[id] = release
            return .some(id)
        }
        guard let owned else { return CARRIER_ERR_SHUTTING_DOWN }
        executor.async { [self] in
            guard let owned else { if isLive { task() }; return }
            // Released at stop already: the task was dropped.
            guard let release = state.withLock({ $0.ownedByPost.removeValue(forKey: owned) }) else { return }
            if isLive { task() }
            release()
        }
        return CARRIER_OK
    }

    /// Starts a timer and writes its id; `release` runs once on the executor when it ends (a
    /// one-shot that ran, a cancel, or the stop).
    func startTimer(delay: UInt64, interval: UInt64, _ task: @escaping @Sendable () -> Void, release: (@Sendable () -> Void)? = nil)
        -> Swift.Result<UInt64, Refusal> {
        state.withLock { state in
            if let refused = Self.refusal(of: state.phase) { return .failure(Refusal(status: refused)) }
            let id = state.nextTimer
            state.nextTimer += 1
            let timer = DispatchSource.makeTimerSource(queue: executor)
            timer.schedule(deadline: .now() + .milliseconds(Int(min(delay, UInt64(Int32.max)))),
                           repeating: interval == 0 ? .never : .milliseconds(Int(min(interval, UInt64(Int32.max)))))
            timer.setEventHandler { [weak self] in
                guard let self, self.isLive else { return }
                var finished: (@Sendable () -> Void)?
                if interval == 0 {
                    finished = self.state.withLock { state in
                        state.timers.removeValue(forKey: id)
                        return state.ownedByTimer.removeValue(forKey: id)
                    }
                }
                task()
                finished?()
            }
            state.timers[id] = timer
            if let release { state.ownedByTimer[id] = release }
            timer.resume()
            return .success(id)
        }
    }

    func cancelTimer(_ id: UInt64) -> Bool {
        let cancelled: (DispatchSourceTimer, UInt64?)? = state.withLock { state in
            guard let timer = state.timers.removeValue(forKey: id) else { return nil }
            guard let release = state.ownedByTimer.removeValue(forKey: id) else { return (timer, nil) }
            let due = state.nextOwned
            state.nextOwned += 1
            state.releasesDue[due] = release
            return (timer, due)
        }
        guard let (timer, due) = cancelled else { return false }
        timer.cancel()
        if let due {
            executor.async { [self] in state.withLock { $0.releasesDue.removeValue(forKey: due) }?() }
        }
        return true
    }

    // MARK: Events

    /// Subscribes to the node's events; `release` runs once on the executor when the subscription ends.
    func subscribe(_ deliver: @escaping @Sendable (DHTEvent) -> Void, release: (@Sendable () -> Void)? = nil) -> carrier_status {
        func refusal(_ state: State) -> carrier_status? {
            if let refused = Self.refusal(of: state.phase) { return refused }
            return state.eventTask == nil ? nil : CARRIER_ERR_UNSUPPORTED
        }
        if let refused = state.withLock({ refusal($0) }) { return refused }
        let events = services.events()
        return state.withLock { state in
            if let refused = refusal(state) { return refused }
            // One event in flight at a time: while the plugin is slow, events wait in the
            // broadcaster's bounded buffer (oldest dropped), not in an unbounded queue.
            state.ownedBySubscription = release
            state.eventTask = Task { [executor, self] in
                for await event in events {
                    await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                        executor.async {
                            if self.isLive { deliver(event) }
                            done.resume()
                        }
                    }
                }
            }
            return CARRIER_OK
        }
    }

    // MARK: Billing

    func defineMeter(_ name: String, unit: String) -> carrier_status {
        state.withLock { state in
            guard state.phase == .creating else { return CARRIER_ERR_UNSUPPORTED }
            state.meters[name] = unit
            return CARRIER_OK
        }
    }

    /// The meters the plugin defined, with their units.
    public var meters: [String: String] { state.withLock { $0.meters } }

    func isMeterDefined(_ name: String) -> Bool { state.withLock { $0.meters[name] != nil } }

    // MARK: Services

    func announceService(type: String, endpoint: String) -> carrier_status {
        guard isLive else { return CARRIER_ERR_SHUTTING_DOWN }
        do {
            try services.announceService(type: type, endpoint: endpoint)
        } catch {
            services.log(CARRIER_LOG_ERROR, "service \(type) not announced: \(error)")
            return error.status
        }
        return CARRIER_OK
    }

    // MARK: Shutdown

    /// After the plugin's `stop` returned (on the executor): cancels timers and the event
    /// subscription, tells every outstanding call it was abandoned, and frees the user data the
    /// plugin handed over (before the plugin's `destroy`).
    func releaseAfterStop() {
        let (timers, calls, events, releases) = state.withLock { state in
            state.phase = .stopped
            let releases = Array(state.ownedByPost.values) + Array(state.ownedByTimer.values) + Array(state.releasesDue.values)
                + (state.ownedBySubscription.map { [$0] } ?? [])
            defer {
                state.timers = [:]; state.pendingCalls = [:]; state.eventTask = nil
                state.ownedByPost = [:]; state.ownedByTimer = [:]; state.releasesDue = [:]; state.ownedBySubscription = nil
            }
            return (Array(state.timers.values), Array(state.pendingCalls.values), state.eventTask, releases)
        }
        for timer in timers { timer.cancel() }
        events?.cancel()
        for abandon in calls { abandon() }
        for release in releases { release() }
    }
}
