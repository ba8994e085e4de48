import CarrierCore
import CarrierPluginSDK
import CarrierShadow
import NIOCore
import NIOPosix
import Synchronization

/// The supernode's Shadow state: each connected client's control connection and public
/// listeners, and the public connections waiting for their data connection. Thread-safe: one lock
/// for its state, another for the port database, whose writes run on `hostCalls`' threads; the
/// channels it holds run on their own event loops.
final class ShadowRelay: Sendable {
    /// What the relay asks of the plugin around it: billing and counters.
    struct Hooks: Sendable {
        /// The billing plan `client` is on (nil: no plans, or not known), for its limits.
        var plan: @Sendable (Id) -> String?
        /// Whether `client` may be served now (its billing allows it).
        var mayServe: @Sendable (Id) -> Bool
        /// `client`'s traffic relayed `bytes` (both ways) over `seconds` (a stream's, once it ended;
        /// a UDP mapping's bytes every 10 s, with no seconds): the bytes the host does not count.
        var relayed: @Sendable (_ client: Id, _ bytes: Int, _ seconds: Int) -> Void
        /// Whether the host counts the bytes of this public TCP socket of `client` itself (ABI
        /// 1.6); a host call, asked on `hostCalls`' threads.
        var countSocket: @Sendable (_ client: Id, _ socket: TCPSocketName) -> Bool
        /// Count one event (`carrier_plugin_shadow_<name>`).
        var count: @Sendable (String) -> Void
    }

    private struct Session {
        var control: Channel
        var listeners: [Channel]
        /// The public UDP ports of its UDP mappings, by mapping name.
        var datagramPorts: [String: Channel]
    }

    /// What a client's connections use, kept by node id rather than per session: streams of a
    /// replaced session (a reconnect) still count and still spend the same budgets, so
    /// reconnecting gains nothing. Dropped once the client has no session and no stream.
    private struct Usage {
        /// The limits of its plan, as of its latest `expose`.
        var limits: ClientLimits
        var streams = 0
        /// Public connections open, by mapping name.
        var mappingStreams: [String: Int] = [:]
        /// The byte budgets its traffic spends: the client's, and one per mapping (absent where
        /// there is no limit).
        var clientBudget: ByteBudget?
        var mappingBudgets: [String: ByteBudget] = [:]

        func budgets(_ mapping: String) -> [ByteBudget] {
            [clientBudget, mappingBudgets[mapping]].compactMap { $0 }
        }
    }

    /// A public connection admitted as a stream: what its data connection needs to relay it.
    struct PublicStream: Sendable {
        var id: UInt64
        var mapping: String
        /// The outside address, `ip:port`, as `open` tells the client.
        var source: String
        var publicChannel: Channel
        /// The public connection's relay handler, keeping what arrives until the stream is attached.
        var plain: NIOLoopBound<PlainRelayHandler>
        /// The budgets the data connection's reads spend.
        var budgets: [ByteBudget]
        /// Who bills its bytes; both sides tell it what they read.
        var billing: StreamBilling

        /// The `open` that asks the client to relay it.
        var open: ShadowFrame { .control(.open(stream: id, mapping: mapping, source: source)) }
    }

    /// A client's data connection kept ready; `adopt` (on its event loop) makes it a stream's.
    private struct Spare {
        var channel: Channel
        var adopt: @Sendable (PublicStream) -> Void
    }

    /// A stream waiting for the client's data connection (`attach`) until `timeout`.
    private struct Pending {
        var client: Id
        var stream: PublicStream
        var timeout: Scheduled<Void>
    }

    private struct State {
        var sessions: [Id: Session] = [:]
        var usage: [Id: Usage] = [:]
        var pending: [UInt64: Pending] = [:]
        /// Each connected client's spare data connections, the newest last.
        var spares: [Id: [Spare]] = [:]
        var nextStream: UInt64 = 0
        /// New public connections per (public port, source address).
        var connectionRates: TokenBuckets<String>
        /// The virtual host names of the connected clients' TCP mappings.
        var hostNames: [String: (client: Id, mapping: GrantedMapping)] = [:]
        /// Connections to the shared ports whose first bytes are still being read.
        var unroutedHeads = 0
        /// The last `load` read, and when.
        var load: (value: Int, at: NIODeadline)?

        /// `client`'s usage under `limits`, with a budget for each of `mappings` (those it had are
        /// kept while its limits stay the same; streams open keep spending the budgets they had).
        mutating func usage(of client: Id, mappings: [MappingRequest], limits: ClientLimits) -> Usage {
            var usage = self.usage[client] ?? Usage(limits: limits, clientBudget: ByteBudget(bytesPerSecond: limits.bytesPerSecondPerClient))
            if usage.limits != limits {
                usage.limits = limits
                usage.clientBudget = ByteBudget(bytesPerSecond: limits.bytesPerSecondPerClient)
                usage.mappingBudgets = [:]
            }
            for mapping in mappings where usage.mappingBudgets[mapping.name] == nil {
                usage.mappingBudgets[mapping.name] = ByteBudget(bytesPerSecond: limits.bytesPerSecondPerMapping)
            }
            self.usage[client] = usage
            return usage
        }

        /// Takes one of `key`'s new connections a minute (`key`: a port and a source address).
        mutating func allowConnection(_ key: String) -> Bool {
            connectionRates.allow(key, now: Int64(NIODeadline.now().uptimeNanoseconds / 1_000_000))
        }

        /// One of `client`'s spares, preferring one on `loop` (the public connection's: the two
        /// sides of the stream then relay without crossing threads); nil when it has none.
        mutating func takeSpare(of client: Id, on loop: EventLoop) -> Spare? {
            guard var waiting = spares[client], !waiting.isEmpty else { return nil }
            let index = waiting.lastIndex { $0.channel.eventLoop === loop } ?? waiting.count - 1
            let spare = waiting.remove(at: index)
            spares[client] = waiting
            return spare
        }

        /// Forgets `client`'s usage once nothing of it is left.
        mutating func dropIdleUsage(_ client: Id) {
            if sessions[client] == nil, usage[client]?.streams ?? 0 == 0 { usage[client] = nil }
        }
    }

    let group: EventLoopGroup
    /// Every channel open on `group`, closed and waited for before the group shuts down.
    let openChannels = OpenChannels()
    /// Threads for host calls that may block (a round trip to the host under process isolation).
    let hostCalls: NIOThreadPool
    let listenHost: String
    let limits: ShadowLimits
    /// The shared ports' names; nil when the supernode has neither.
    let virtualHosts: VirtualHosts?
    private let hooks: Hooks
    private let state: Mutex<State>
    /// The port database (SQLite, durable writes): a lock of its own, taken on `hostCalls`'
    /// threads for writes, so that no event loop waits for its disk, and no connection waits
    /// behind `state` while it commits.
    private let ports: Mutex<PortAssignments>

    init(ports: sending PortAssignments, group: EventLoopGroup, hostCalls: NIOThreadPool, listenHost: String, limits: ShadowLimits,
         virtualHosts: VirtualHosts?, hooks: Hooks) {
        self.hostCalls = hostCalls
        self.virtualHosts = virtualHosts
        let perMinute = Double(limits.connectionsPerSourcePerMinute)
        state = Mutex(State(connectionRates: TokenBuckets(rate: perMinute / 60, burst: max(1, perMinute / 4))))
        self.ports = Mutex(ports)
        self.group = group
        self.listenHost = listenHost
        self.limits = limits
        self.hooks = hooks
    }

    /// Clients connected now.
    var clientCount: Int { state.withLock { $0.sessions.count } }

    /// How full the public ports are, per mille: those held by connected clients or still
    /// reserved for disconnected ones, of the range (the fuller protocol's); 1000 when the ports
    /// cannot be read.
    /// Read from the database (a read, no commit) at most once a second: anyone may ask, on an
    /// event loop. While a commit holds the database, the last value read answers instead.
    var load: Int {
        let now = NIODeadline.now()
        let (last, connected) = state.withLock { ($0.load, Set($0.sessions.keys)) }
        if let last, now - last.at < .seconds(1) { return last.value }
        guard let value = ports.withLockIfAvailable({ (try? $0.load(connected: connected)) ?? 1000 }) else { return last?.value ?? 1000 }
        state.withLock { $0.load = (value, now) }
        return value
    }

    // MARK: Control connections

    /// Grants `client` its `requests` on the control connection `control`: the same public ports
    /// as before where it had them, listening before the answer is sent. A client already
    /// connected is replaced (its old control connection is closed: a network change leaves one
    /// behind).
    func expose(_ requests: [MappingRequest], for client: Id, control: Channel) -> EventLoopFuture<ControlMessage> {
        let loop = control.eventLoop
        // Names are distinct across transports too: `open` and `udp` name a mapping by its name alone.
        guard !requests.isEmpty, Set(requests.map(\.name)).count == requests.count else {
            return loop.makeSucceededFuture(.refused("expose needs mappings with distinct names (a TCP and a UDP mapping need two)"))
        }
        // The plan and the billing decision are host calls, a round trip each under process
        // isolation: asked on `hostCalls`' threads, never on the event loop.
        let hooks = self.hooks
        return hostCalls.runIfActive(eventLoop: loop) { (hooks.plan(client), hooks.mayServe(client)) }.flatMap { plan, allowed in
            let clientLimits = self.limits.client(onPlan: plan)
            guard requests.count <= clientLimits.mappingsPerClient else {
                hooks.count("refused_mappings")
                let on = plan.map { " on plan \($0)" } ?? ""
                return loop.makeSucceededFuture(.refused("at most \(clientLimits.mappingsPerClient) mappings per client\(on)"))
            }
            guard allowed else {
                hooks.count("refused_payment")
                return loop.makeSucceededFuture(.refused("payment required: the client's plan does not allow more relaying"))
            }
            return self.grant(requests, for: client, limits: clientLimits, control: control)
        }.flatMapErrorThrowing { error in
            .refused("the supernode is stopping: \(error)")
        }
    }

    /// `expose` once the client may have `requests` under `clientLimits`.
    private func grant(_ requests: [MappingRequest], for client: Id, limits clientLimits: ClientLimits,
                       control: Channel) -> EventLoopFuture<ControlMessage> {
        let loop = control.eventLoop
        let (previous, staleSpares) = state.withLock { state in
            state.hostNames = state.hostNames.filter { $0.value.client != client }
            return (state.sessions.removeValue(forKey: client), state.spares.removeValue(forKey: client) ?? [])
        }
        // The replaced session's spares may be dead connections (a network change): never adopted.
        staleSpares.forEach { $0.channel.close(promise: nil) }
        let closed = previous.map { session in
            session.control.close(promise: nil)
            return EventLoopFuture.andAllComplete(session.listeners.map { $0.close() }, on: loop)
        } ?? loop.makeSucceededVoidFuture()
        // The ports are chosen and recorded (a durable write) on `hostCalls`' threads.
        let assigned = closed.flatMap { () -> EventLoopFuture<Result<[UInt16?], StorageError>> in
            let connected = self.state.withLock { Set($0.sessions.keys) }
            return self.hostCalls.runIfActive(eventLoop: loop) {
                self.ports.withLock { ports in
                    Result { () throws(StorageError) in
                        var assigned: [UInt16?] = []
                        for request in requests { assigned.append(try ports.port(for: client, request, connected: connected)) }
                        return assigned
                    }
                }
            }
        }
        return assigned.flatMap { (assignment: Result<[UInt16?], StorageError>) -> EventLoopFuture<ControlMessage> in
            let ports: [UInt16?]
            switch assignment {
            case .success(let assigned): ports = assigned
            case .failure(let error): return loop.makeSucceededFuture(.refused("the supernode cannot record the mapping: \(error)"))
            }
            guard ports.allSatisfy({ $0 != nil }) else {
                self.hooks.count("refused_ports")
                return loop.makeSucceededFuture(.refused("no free public port left on this supernode"))
            }
            let granted = zip(requests, ports).map { request, port in
                request.transport == .tcp
                    ? GrantedMapping(request, port: port!, http: self.virtualHosts?.httpURL(request.name, client: client),
                                     https: self.virtualHosts?.httpsURL(request.name, client: client))
                    : GrantedMapping(request, port: port!)
            }
            let usage = self.state.withLock { $0.usage(of: client, mappings: requests, limits: clientLimits) }
            let binding = granted.map { mapping in
                switch mapping.request.transport {
                case .tcp:
                    PublicListener.bind(host: self.listenHost, port: Int(mapping.port), group: self.group, tracking: self.openChannels) { channel in
                        self.publicConnection(channel, client: client, mapping: mapping)
                    }
                case .udp:
                    PublicDatagramPort.bind(host: self.listenHost, port: Int(mapping.port), group: self.group,
                                            tracking: self.openChannels) {
                        self.datagramHandler(client: client, mapping: mapping.request, clientBudget: usage.clientBudget,
                                             mappingBudget: usage.mappingBudgets[mapping.request.name])
                    }
                }
            }
            return EventLoopFuture.whenAllComplete(binding, on: loop).map { outcomes in
                let listeners = outcomes.compactMap { try? $0.get() }
                guard listeners.count == granted.count else {
                    listeners.forEach { $0.close(promise: nil) }
                    self.state.withLock { $0.dropIdleUsage(client) }
                    let reason = outcomes.compactMap { if case .failure(let error) = $0 { "\(error)" } else { nil } }.first ?? ""
                    return .refused("cannot listen on a public port: \(reason)")
                }
                let accepted = self.state.withLock { state -> Bool in
                    guard state.sessions[client] == nil, control.isActive else { return false }
                    let datagramPorts = zip(granted, listeners).filter { $0.0.request.transport == .udp }.map { ($0.0.request.name, $0.1) }
                    state.sessions[client] = Session(control: control, listeners: listeners,
                                                     datagramPorts: Dictionary(uniqueKeysWithValues: datagramPorts))
                    if let virtualHosts = self.virtualHosts {
                        for mapping in granted where mapping.request.transport == .tcp {
                            state.hostNames[virtualHosts.name(mapping.request.name, client: client)] = (client, mapping)
                        }
                    }
                    return true
                }
                guard accepted else {
                    listeners.forEach { $0.close(promise: nil) }
                    self.state.withLock { $0.dropIdleUsage(client) }
                    return .refused("another connection of this client took its place")
                }
                self.hooks.count("sessions_opened")
                return .exposed(granted)
            }
        }
    }

    /// The control connection of `client` closed: its listeners close, its waiting public
    /// connections too (their streams cannot be attached any more).
    func controlClosed(_ control: Channel, client: Id) {
        let (session, waiting, spares) = state.withLock { state -> (Session?, [Pending], [Spare]) in
            guard let session = state.sessions[client], session.control === control else { return (nil, [], []) }
            state.sessions[client] = nil
            state.hostNames = state.hostNames.filter { $0.value.client != client }
            state.dropIdleUsage(client)
            let waiting = state.pending.filter { $0.value.client == client }
            for stream in waiting.keys { state.pending[stream] = nil }
            // Its spares go with it (once the session is gone, none can be added).
            return (session, Array(waiting.values), state.spares.removeValue(forKey: client) ?? [])
        }
        spares.forEach { $0.channel.close(promise: nil) }
        session?.listeners.forEach { $0.close(promise: nil) }
        for stream in waiting {
            stream.timeout.cancel()
            stream.stream.publicChannel.close(promise: nil)
        }
        // Its reservation runs from now: recorded on `hostCalls`' threads (inline once they are gone, at stop).
        guard session != nil else { return }
        let touch: @Sendable () -> Void = { [self] in ports.withLock { _ = try? $0.touch(client) } }
        hostCalls.runIfActive(eventLoop: control.eventLoop, touch).whenFailure { _ in touch() }
    }

    // MARK: UDP mappings

    private func datagramHandler(client: Id, mapping: MappingRequest, clientBudget: ByteBudget?,
                                 mappingBudget: ByteBudget?) -> PublicDatagramHandler {
        PublicDatagramHandler(maxSources: limits.sourcesPerDatagramMapping, budgets: DatagramBudgets(client: clientBudget, mapping: mappingBudget),
                              hooks: .init(
            admits: { [limits] source in limits.admits(source, to: mapping) },
            relayed: { [hooks] bytes in hooks.relayed(client, bytes, 0) },
            count: hooks.count))
    }

    /// The public UDP port of `client`'s UDP mapping `mapping`, for its datagram connection; nil
    /// when it has no such mapping.
    func datagramPort(_ mapping: String, client: Id) -> Channel? {
        guard let port = state.withLock({ $0.sessions[client]?.datagramPorts[mapping] }) else {
            hooks.count("refused_udp")
            return nil
        }
        return port
    }

    // MARK: Spare data connections

    /// Keeps `channel`, a data connection of connected `client` that said `spare`, for its next
    /// public connection; false (refused and counted) when the client is not connected or has
    /// `limits.sparesPerClient` already.
    func addSpare(_ channel: Channel, client: Id, adopt: @escaping @Sendable (PublicStream) -> Void) -> Bool {
        let added = state.withLock { state -> Bool in
            guard state.sessions[client] != nil, state.spares[client, default: []].count < limits.sparesPerClient else { return false }
            state.spares[client, default: []].append(Spare(channel: channel, adopt: adopt))
            return true
        }
        guard added else {
            hooks.count("refused_spares")
            return false
        }
        hooks.count("spares_joined")
        channel.closeFuture.whenComplete { _ in
            self.state.withLock { state in state.spares[client]?.removeAll { $0.channel === channel } }
        }
        return true
    }

    /// A public connection whose spare was gone when it came to be relayed: it waits for a data
    /// connection asked for on the control connection, as without spares (closed when the client
    /// is gone).
    func openOnControl(_ stream: PublicStream, client: Id) {
        hooks.count("spares_lost")
        let control = state.withLock { state -> Channel? in
            guard let session = state.sessions[client], stream.publicChannel.isActive else { return nil }
            awaitDataConnection(stream, client: client, in: &state)
            return session.control
        }
        guard let control else { return stream.publicChannel.close(promise: nil) }
        control.writeAndFlush(stream.open, promise: nil)
    }

    /// Registers `stream` as waiting for `client`'s data connection, closed after `attachSeconds`.
    private func awaitDataConnection(_ stream: PublicStream, client: Id, in state: inout State) {
        let timeout = stream.publicChannel.eventLoop.scheduleTask(in: .seconds(limits.attachSeconds)) { [weak self] () -> Void in
            self?.attachTimedOut(stream.id)
        }
        state.pending[stream.id] = Pending(client: client, stream: stream, timeout: timeout)
    }

    // MARK: Streams

    /// Why a public connection was refused before it reached the client.
    private enum Refusal: String, Error {
        /// The operator's denylist or the mapping's allow/deny lists.
        case source = "refused_source"
        /// Its source opened too many connections to this port this minute.
        case rate = "refused_rate"
        /// The client or the mapping has as many connections open as it may.
        case streams = "refused_streams"
    }

    /// A public connection to `client`'s `mapping` (on its event loop, before it is read): once
    /// its source passes the port's checks it waits for the client's data connection, which
    /// `open` on the control connection asks for.
    @discardableResult
    private func publicConnection(_ channel: Channel, client: Id, mapping: GrantedMapping) -> Bool {
        let name = mapping.request.name
        guard let address = channel.remoteAddress, limits.admits(address, to: mapping.request) else {
            refuse(channel, .source)
            return false
        }
        let source = "\(address.ipAddress ?? "?"):\(address.port ?? 0)"
        let accepted = ContinuousClock.now, hooks = self.hooks
        let billing = StreamBilling { bytes, seconds in hooks.relayed(client, bytes, seconds) }
        let plain = PlainRelayHandler { bytes in billing.ended(bytes: bytes, seconds: Self.wholeSeconds(since: accepted)) }
        let bound = NIOLoopBound(plain, eventLoop: channel.eventLoop)
        let opened = state.withLock { state -> Result<(PublicStream, Channel, ClientLimits, Spare?), Refusal>? in
            guard let session = state.sessions[client], var usage = state.usage[client] else { return nil }
            guard state.allowConnection("\(mapping.port) \(address.ipAddress ?? "")") else { return .failure(.rate) }
            guard usage.streams < usage.limits.streamsPerClient, usage.mappingStreams[name, default: 0] < usage.limits.streamsPerMapping else {
                return .failure(.streams)
            }
            usage.streams += 1
            usage.mappingStreams[name, default: 0] += 1
            state.usage[client] = usage
            state.nextStream += 1
            let stream = PublicStream(id: state.nextStream, mapping: name, source: source, publicChannel: channel, plain: bound,
                                      budgets: usage.budgets(name), billing: billing)
            let spare = state.takeSpare(of: client, on: channel.eventLoop)
            if spare == nil { awaitDataConnection(stream, client: client, in: &state) }
            return .success((stream, session.control, usage.limits, spare))
        }
        switch opened {
        case nil:
            channel.close(promise: nil)
            return false
        case .failure(let refusal)?:
            refuse(channel, refusal)
            return false
        case .success(let (stream, control, clientLimits, spare))?:
            channel.closeFuture.whenComplete { _ in self.streamClosed(client, mapping: name, stream: stream.id) }
            billing.ask(channel, hostCalls: hostCalls) { hooks.countSocket(client, $0) }
            do {
                let handlers = channel.pipeline.syncOperations
                if !stream.budgets.isEmpty { try handlers.addHandler(ReadThrottle(budgets: stream.budgets)) }
                try handlers.addHandler(StreamDeadlines(idle: clientLimits.idle, total: clientLimits.streamLifetime, expired: hooks.count))
                try handlers.addHandler(plain)
                if let spare {
                    hooks.count("streams_spare")
                    try handlers.addHandler(WhenActive { spare.channel.eventLoop.execute { spare.adopt(stream) } })
                    return true
                }
            } catch {
                // A spare taken for it goes too (it is in no list any more); the client replaces it.
                spare?.channel.close(promise: nil)
                channel.close(promise: nil)
                return false
            }
            control.writeAndFlush(stream.open, promise: nil)
            return true
        }
    }

    // MARK: The shared HTTP and TLS ports

    /// Whether a new connection to the shared `kind` port ("http" or "tls") may have its first
    /// bytes read: its source is not on the operator's denylist nor over its rate (the port's own,
    /// per source), and fewer than `limits.unroutedSharedPortConnections` connections of both ports are
    /// being read. A refused one is closed and counted. Each admitted one must be let go with
    /// `sharedPortConnectionLeft()`.
    func admitSharedPortConnection(_ channel: Channel, kind: String) -> Bool {
        guard let address = channel.remoteAddress, limits.admits(address, to: nil) else {
            refuse(channel, .source)
            return false
        }
        let refusal = state.withLock { state -> Refusal? in
            guard state.allowConnection("\(kind) \(address.ipAddress ?? "")") else { return .rate }
            guard state.unroutedHeads < limits.unroutedSharedPortConnections else { return .streams }
            state.unroutedHeads += 1
            return nil
        }
        if let refusal { refuse(channel, refusal) }
        return refusal == nil
    }

    /// A connection admitted by `admitSharedPortConnection` was routed, answered or closed.
    func sharedPortConnectionLeft() {
        state.withLock { $0.unroutedHeads -= 1 }
    }

    /// A connection to a shared port whose first bytes name `host` (on its event loop): it
    /// becomes a public connection of the mapping with that virtual host, starting with `head`,
    /// the bytes read so far.
    func virtualHostConnection(_ channel: Channel, host: String, head: ByteBuffer) -> SharedPortRouter.Routed {
        guard let (client, mapping) = state.withLock({ $0.hostNames[host] }) else { return .unknown }
        guard publicConnection(channel, client: client, mapping: mapping) else { return .refused }
        channel.pipeline.syncOperations.fireChannelRead(NIOAny(head))
        return .accepted
    }

    private func refuse(_ channel: Channel, _ refusal: Refusal) {
        hooks.count(refusal.rawValue)
        channel.close(promise: nil)
    }

    private func attachTimedOut(_ stream: UInt64) {
        guard let pending = state.withLock({ $0.pending.removeValue(forKey: stream) }) else { return }
        hooks.count("streams_unattached")
        pending.stream.publicChannel.close(promise: nil)
    }

    /// A public connection closed, attached or not (one that closes while it waits is no
    /// longer attachable).
    private func streamClosed(_ client: Id, mapping: String, stream: UInt64) {
        let waiting = state.withLock { state -> Pending? in
            if var usage = state.usage[client] {
                usage.streams -= 1
                usage.mappingStreams[mapping, default: 1] -= 1
                state.usage[client] = usage
                state.dropIdleUsage(client)
            }
            return state.pending.removeValue(forKey: stream)
        }
        waiting?.timeout.cancel()
    }

    /// The stream `stream` of `client`, waiting for its data connection; nil when there is none
    /// (timed out, or another client's stream: a stream belongs to the node id that authenticated
    /// its data connection).
    func attach(_ stream: UInt64, client: Id) -> PublicStream? {
        let pending = state.withLock { state -> Pending? in
            guard let pending = state.pending[stream], pending.client == client else { return nil }
            state.pending[stream] = nil
            return pending
        }
        guard let pending else {
            hooks.count("refused_attach")
            return nil
        }
        pending.timeout.cancel()
        return pending.stream
    }

    /// Whole seconds since `instant`, rounded up.
    private static func wholeSeconds(since instant: ContinuousClock.Instant) -> Int {
        let elapsed = ContinuousClock.now - instant
        return Int(elapsed.components.seconds) + (elapsed.components.attoseconds > 0 ? 1 : 0)
    }

    /// Closes every connection and listener (the plugin stops).
    func closeAll() {
        let (sessions, pending, spares) = state.withLock { state -> ([Session], [Pending], [Spare]) in
            defer { state.sessions = [:]; state.pending = [:]; state.spares = [:] }
            return (Array(state.sessions.values), Array(state.pending.values), state.spares.values.flatMap { $0 })
        }
        spares.forEach { $0.channel.close(promise: nil) }
        for session in sessions {
            session.control.close(promise: nil)
            session.listeners.forEach { $0.close(promise: nil) }
        }
        for stream in pending {
            stream.timeout.cancel()
            stream.stream.publicChannel.close(promise: nil)
        }
    }
}
