import CarrierCore
import CarrierShadow
import NIOCore
import NIOPosix
import Synchronization

/// The supernode's Shadow state: each connected client's control connection and public
/// listeners, and the public connections waiting for their data connection. Thread-safe (one
/// lock); the channels it holds run on their own event loops.
final class ShadowRelay: Sendable {
    /// What the relay asks of the plugin around it: billing and counters.
    struct Hooks: Sendable {
        /// Whether `client` may be served now (its billing allows it).
        var mayServe: @Sendable (Id) -> Bool
        /// `client`'s traffic relayed `bytes` (both ways) over `seconds` (a stream's, once it ended;
        /// a UDP mapping's bytes every 10 s, with no seconds).
        var relayed: @Sendable (_ client: Id, _ bytes: Int, _ seconds: Int) -> Void
        /// Count one event (`carrier_plugin_shadow_<name>`).
        var count: @Sendable (String) -> Void
    }

    private struct Session {
        var control: Channel
        var listeners: [Channel]
        /// The public UDP ports of its UDP mappings, by mapping name.
        var datagramPorts: [String: Channel]
        var streams = 0
    }

    private struct Pending {
        var client: Id
        var channel: Channel
        /// The public connection's relay handler, keeping what arrives until the stream is attached.
        var plain: NIOLoopBound<PlainRelayHandler>
        var timeout: Scheduled<Void>
    }

    private struct State {
        var sessions: [Id: Session] = [:]
        var pending: [UInt64: Pending] = [:]
        var nextStream: UInt64 = 0
        var ports: PortAssignments
    }

    let group: EventLoopGroup
    let listenHost: String
    let limits: ShadowLimits
    private let hooks: Hooks
    private let state: Mutex<State>

    init(ports: sending PortAssignments, group: EventLoopGroup, listenHost: String, limits: ShadowLimits, hooks: Hooks) {
        state = Mutex(State(ports: ports))
        self.group = group
        self.listenHost = listenHost
        self.limits = limits
        self.hooks = hooks
    }

    /// Clients connected now.
    var clientCount: Int { state.withLock { $0.sessions.count } }

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
        guard requests.count <= limits.mappingsPerClient else {
            hooks.count("refused_mappings")
            return loop.makeSucceededFuture(.refused("at most \(limits.mappingsPerClient) mappings per client"))
        }
        guard hooks.mayServe(client) else {
            hooks.count("refused_payment")
            return loop.makeSucceededFuture(.refused("payment required: the client's plan does not allow more relaying"))
        }
        let previous = state.withLock { $0.sessions.removeValue(forKey: client) }
        let closed = previous.map { session in
            session.control.close(promise: nil)
            return EventLoopFuture.andAllComplete(session.listeners.map { $0.close() }, on: loop)
        } ?? loop.makeSucceededVoidFuture()
        return closed.flatMap { () -> EventLoopFuture<ControlMessage> in
            let ports: [UInt16?]
            do {
                ports = try self.state.withLock { state in
                    let connected = Set(state.sessions.keys)
                    return try requests.map { try state.ports.port(for: client, $0, connected: connected) }
                }
            } catch {
                return loop.makeSucceededFuture(.refused("the supernode cannot record the mapping: \(error)"))
            }
            guard ports.allSatisfy({ $0 != nil }) else {
                self.hooks.count("refused_ports")
                return loop.makeSucceededFuture(.refused("no free public port left on this supernode"))
            }
            let granted = zip(requests, ports).map { GrantedMapping($0, port: $1!) }
            let binding = granted.map { mapping in
                switch mapping.request.transport {
                case .tcp:
                    PublicListener.bind(host: self.listenHost, port: Int(mapping.port), group: self.group) { channel in
                        self.publicConnection(channel, client: client, mapping: mapping.request.name)
                    }
                case .udp:
                    PublicDatagramPort.bind(host: self.listenHost, port: Int(mapping.port), group: self.group) {
                        self.datagramHandler(client: client)
                    }
                }
            }
            return EventLoopFuture.whenAllComplete(binding, on: loop).map { outcomes in
                let listeners = outcomes.compactMap { try? $0.get() }
                guard listeners.count == granted.count else {
                    listeners.forEach { $0.close(promise: nil) }
                    let reason = outcomes.compactMap { if case .failure(let error) = $0 { "\(error)" } else { nil } }.first ?? ""
                    return .refused("cannot listen on a public port: \(reason)")
                }
                let accepted = self.state.withLock { state -> Bool in
                    guard state.sessions[client] == nil, control.isActive else { return false }
                    let datagramPorts = zip(granted, listeners).filter { $0.0.request.transport == .udp }.map { ($0.0.request.name, $0.1) }
                    state.sessions[client] = Session(control: control, listeners: listeners,
                                                     datagramPorts: Dictionary(uniqueKeysWithValues: datagramPorts))
                    return true
                }
                guard accepted else {
                    listeners.forEach { $0.close(promise: nil) }
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
        let (session, waiting) = state.withLock { state -> (Session?, [Pending]) in
            guard let session = state.sessions[client], session.control === control else { return (nil, []) }
            state.sessions[client] = nil
            try? state.ports.touch(client)
            let waiting = state.pending.filter { $0.value.client == client }
            for stream in waiting.keys { state.pending[stream] = nil }
            return (session, Array(waiting.values))
        }
        session?.listeners.forEach { $0.close(promise: nil) }
        for stream in waiting {
            stream.timeout.cancel()
            stream.channel.close(promise: nil)
        }
    }

    // MARK: UDP mappings

    private func datagramHandler(client: Id) -> PublicDatagramHandler {
        PublicDatagramHandler(maxSources: limits.sourcesPerDatagramMapping, hooks: .init(
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

    // MARK: Streams

    /// A public connection to `client`'s `mapping` (on its event loop, before it is read): it
    /// waits for the client's data connection, which `open` on the control connection asks for.
    private func publicConnection(_ channel: Channel, client: Id, mapping: String) {
        let source = channel.remoteAddress.map { "\($0.ipAddress ?? "?"):\($0.port ?? 0)" } ?? "?"
        let accepted = ContinuousClock.now
        let plain = PlainRelayHandler { [weak self] bytes in self?.streamEnded(client: client, bytes: bytes, opened: accepted) }
        do { try channel.pipeline.syncOperations.addHandler(plain) } catch { return channel.close(promise: nil) }
        let bound = NIOLoopBound(plain, eventLoop: channel.eventLoop)
        let opened = state.withLock { state -> (UInt64, Channel)? in
            guard var session = state.sessions[client], session.streams < limits.streamsPerClient else { return nil }
            session.streams += 1
            state.sessions[client] = session
            state.nextStream += 1
            let stream = state.nextStream
            let timeout = channel.eventLoop.scheduleTask(in: .seconds(limits.attachSeconds)) { [weak self] () -> Void in
                self?.attachTimedOut(stream)
            }
            state.pending[stream] = Pending(client: client, channel: channel, plain: bound, timeout: timeout)
            return (stream, session.control)
        }
        guard let (stream, control) = opened else {
            hooks.count("refused_streams")
            channel.close(promise: nil)
            return
        }
        channel.closeFuture.whenComplete { _ in self.streamClosed(client, stream: stream) }
        control.writeAndFlush(ShadowFrame.control(.open(stream: stream, mapping: mapping, source: source)), promise: Optional<EventLoopPromise<Void>>.none)
    }

    private func attachTimedOut(_ stream: UInt64) {
        guard let pending = state.withLock({ $0.pending.removeValue(forKey: stream) }) else { return }
        hooks.count("streams_unattached")
        pending.channel.close(promise: nil)
    }

    /// A public connection closed, attached or not (one that closes while it waits is no
    /// longer attachable).
    private func streamClosed(_ client: Id, stream: UInt64) {
        let waiting = state.withLock { state -> Pending? in
            if var session = state.sessions[client] {
                session.streams -= 1
                state.sessions[client] = session
            }
            return state.pending.removeValue(forKey: stream)
        }
        waiting?.timeout.cancel()
    }

    /// The public connection waiting for `client`'s stream `stream`, and its relay handler; nil
    /// when there is none (timed out, or another client's stream: a stream belongs to the node id
    /// that authenticated its data connection).
    func attach(_ stream: UInt64, client: Id) -> (channel: Channel, plain: NIOLoopBound<PlainRelayHandler>)? {
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
        return (pending.channel, pending.plain)
    }

    /// Reports what one side of a stream relayed: `bytes`, and, from the public side, the
    /// connection's duration since `opened` (in whole seconds, rounded up).
    func streamEnded(client: Id, bytes: Int, opened: ContinuousClock.Instant?) {
        var seconds = 0
        if let opened {
            let elapsed = ContinuousClock.now - opened
            seconds = Int(elapsed.components.seconds) + (elapsed.components.attoseconds > 0 ? 1 : 0)
        }
        hooks.relayed(client, bytes, seconds)
    }

    /// Closes every connection and listener (the plugin stops).
    func closeAll() {
        let (sessions, pending) = state.withLock { state -> ([Session], [Pending]) in
            defer { state.sessions = [:]; state.pending = [:] }
            return (Array(state.sessions.values), Array(state.pending.values))
        }
        for session in sessions {
            session.control.close(promise: nil)
            session.listeners.forEach { $0.close(promise: nil) }
        }
        for stream in pending {
            stream.timeout.cancel()
            stream.channel.close(promise: nil)
        }
    }
}
