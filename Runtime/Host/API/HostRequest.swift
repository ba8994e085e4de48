import CarrierCore
import CarrierDHT
import CarrierPluginABI

/// One host-API call as the host serves it: the one description of each call, with its delivery
/// and its form on a plugin runner's socket (a `RunnerMessage`: the op and its fields). The C table
/// (`HostAPI`) builds these, `LocalPluginServices.serve` answers them with a `HostReply`, and a
/// runner's `RemotePluginServices` carries them to the host, whose `RunnerCalls` decodes and serves
/// them, with no per-call code in either.
enum HostRequest: Sendable, Equatable {
    case log(level: UInt32, text: String)
    case counter(name: String, delta: Double)
    case gauge(name: String, value: Double)
    case usage(client: Id, meter: String, amount: UInt64)
    case sign(data: [UInt8])
    case seal(plaintext: [UInt8], recipient: Id)
    case open(sealed: [UInt8], sender: Id)
    case authorize(client: Id, meter: String, estimate: UInt64)
    case settlementResult(batch: UInt64, paid: Bool, message: String)
    case announceService(type: String, endpoint: String)
    case withdrawService(type: String)
    case findNode(target: Id)
    case findValue(id: Id, cas: Int32?)
    case findPeers(id: Id, count: Int)
    case store(value: Value, cas: Int32?)
    case announce(peer: PeerInfo)
    case withdrawAllServices
    case dhtStatus
    /// The plan the plugin bills `client` by (ABI 1.5).
    case clientPlan(client: Id)
    /// Bill `client` under `meter` for a TCP socket's bytes by the kernel's count (ABI 1.6), if
    /// the kernel answers before `before` (`SocketMeter.monotonicNanoseconds`): after it, a
    /// runner's call has timed out and its plugin bills the bytes itself.
    case countSocket(client: Id, meter: String, socket: KernelSocket, before: UInt64)

    /// How a call travels to the host from a runner.
    enum Delivery: Sendable { case oneWay, synchronous, asynchronous }

    /// One-way calls are sent and not answered (in order, on the socket's reader thread);
    /// synchronous ones block the plugin's thread for one round trip; asynchronous ones suspend.
    var delivery: Delivery {
        switch self {
        case .log, .counter, .gauge, .usage: .oneWay
        case .sign, .seal, .open, .authorize, .settlementResult, .announceService, .withdrawService, .clientPlan, .countSocket: .synchronous
        case .findNode, .findValue, .findPeers, .store, .announce, .withdrawAllServices, .dhtStatus: .asynchronous
        }
    }

    /// Longest log line a runner sends.
    static let maxLogBytes = 8192

    // MARK: On the runner's socket

    /// The request as a runner message with `id` (nil for a one-way call).
    func message(id: UInt64?) -> RunnerMessage {
        let (op, fields) = wireForm
        return RunnerMessage(op, id: id, fields)
    }

    private var wireForm: (String, [String: CBOR]) {
        switch self {
        case .log(let level, let text):
            ("log", ["level": .unsigned(UInt64(level)), "text": .text(String(decoding: text.utf8.prefix(Self.maxLogBytes), as: UTF8.self))])
        case .counter(let name, let delta): ("counter", ["name": .text(name), "amount": .unsigned(delta.bitPattern)])
        case .gauge(let name, let value): ("gauge", ["name": .text(name), "amount": .unsigned(value.bitPattern)])
        case .usage(let client, let meter, let amount): ("usage", ["client": .bytes(client.bytes), "meter": .text(meter), "amount": .unsigned(amount)])
        case .sign(let data): ("sign", ["data": .bytes(data)])
        case .seal(let plaintext, let recipient): ("seal", ["data": .bytes(plaintext), "peer": .bytes(recipient.bytes)])
        case .open(let sealed, let sender): ("open", ["data": .bytes(sealed), "peer": .bytes(sender.bytes)])
        case .authorize(let client, let meter, let estimate):
            ("authorize", ["client": .bytes(client.bytes), "meter": .text(meter), "amount": .unsigned(estimate)])
        case .settlementResult(let batch, let paid, let message):
            ("settled", ["batch": .unsigned(batch), "paid": .unsigned(paid ? 1 : 0), "text": .text(message)])
        case .announceService(let type, let endpoint): ("announce_service", ["type": .text(type), "endpoint": .text(endpoint)])
        case .withdrawService(let type): ("withdraw_service", ["type": .text(type)])
        case .findNode(let target): ("find_node", ["target": .bytes(target.bytes)])
        case .findValue(let id, let cas): ("find_value", Self.withCAS(cas, ["target": .bytes(id.bytes)]))
        case .findPeers(let id, let count): ("find_peers", ["target": .bytes(id.bytes), "count": .unsigned(UInt64(count))])
        case .store(let value, let cas): ("store", Self.withCAS(cas, ["value": RunnerMessage.encode(value: value)]))
        case .announce(let peer): ("announce", ["peers": RunnerMessage.encode(peers: [peer])])
        case .withdrawAllServices: ("withdraw_all", [:])
        case .dhtStatus: ("dht_status", [:])
        case .clientPlan(let client): ("client_plan", ["client": .bytes(client.bytes)])
        case .countSocket(let client, let meter, let socket, let before):
            ("count_socket", ["client": .bytes(client.bytes), "meter": .text(meter), "cookie": .unsigned(socket.cookie), "before": .unsigned(before),
                              "family": .unsigned(UInt64(socket.family.rawValue)), "local": .bytes(socket.local.address),
                              "localPort": .unsigned(UInt64(socket.local.port)), "remote": .bytes(socket.remote.address),
                              "remotePort": .unsigned(UInt64(socket.remote.port))])
        }
    }

    private static func withCAS(_ cas: Int32?, _ fields: [String: CBOR]) -> [String: CBOR] {
        var fields = fields
        if let cas { fields["cas"] = .unsigned(UInt64(cas)) }
        return fields
    }

    /// The request a runner sent, checked as the host checks the same call from an in-process
    /// plugin; anything else is `MalformedRunnerMessage` (and the runner is dropped).
    init(_ message: RunnerMessage) throws(MalformedRunnerMessage) {
        switch message.op {
        case "log": self = .log(level: UInt32(min(try message.unsigned("level"), 5)), text: try message.text("text"))
        case "counter": self = .counter(name: try Self.metricName(message, "name"), delta: try message.double("amount"))
        case "gauge": self = .gauge(name: try Self.metricName(message, "name"), value: try message.double("amount"))
        case "usage":
            self = .usage(client: try message.id("client"), meter: try Self.metricName(message, "meter"), amount: try Self.units(message))
        case "sign": self = .sign(data: try message.bytes("data"))
        case "seal": self = .seal(plaintext: try message.bytes("data"), recipient: try message.id("peer"))
        case "open": self = .open(sealed: try message.bytes("data"), sender: try message.id("peer"))
        case "authorize":
            self = .authorize(client: try message.id("client"), meter: try Self.metricName(message, "meter"), estimate: try Self.units(message))
        case "settled":
            self = .settlementResult(batch: try message.unsigned("batch"), paid: try message.unsigned("paid") == 1, message: try message.text("text"))
        case "announce_service": self = .announceService(type: try message.text("type"), endpoint: try message.text("endpoint"))
        case "withdraw_service": self = .withdrawService(type: try message.text("type"))
        case "find_node": self = .findNode(target: try message.id("target"))
        case "find_value": self = .findValue(id: try message.id("target"), cas: try Self.cas(message))
        case "find_peers":
            let count = try message.unsigned("count")
            guard (1...8).contains(count) else { throw message.missing("count", "1 to 8") }
            self = .findPeers(id: try message.id("target"), count: Int(count))
        case "store":
            let value = try message.value("value")
            guard value.isValid else { throw message.missing("value", "a valid value") }
            self = .store(value: value, cas: try Self.cas(message))
        case "announce":
            guard let peer = try message.peers("peers").first, peer.isValid else { throw message.missing("peers", "one valid peer record") }
            self = .announce(peer: peer)
        case "withdraw_all": self = .withdrawAllServices
        case "dht_status": self = .dhtStatus
        case "client_plan": self = .clientPlan(client: try message.id("client"))
        case "count_socket":
            self = .countSocket(client: try message.id("client"), meter: try Self.metricName(message, "meter"), socket: try Self.socket(message),
                                before: try message.unsigned("before"))
        default: throw MalformedRunnerMessage(description: "unknown op \"\(message.op)\"")
        }
        guard delivery == .oneWay || message.id != nil else { throw message.missing("id", "present on \(message.op)") }
    }

    /// The TCP socket of a `count_socket`: a family of 4 or 6, addresses of its length, 16-bit ports.
    private static func socket(_ message: RunnerMessage) throws(MalformedRunnerMessage) -> KernelSocket {
        guard let family = UInt8(exactly: try message.unsigned("family")).flatMap(KernelSocket.Family.init(rawValue:)) else {
            throw message.missing("family", "4 or 6")
        }
        func port(_ key: String) throws(MalformedRunnerMessage) -> UInt16 {
            guard let port = UInt16(exactly: try message.unsigned(key)) else { throw message.missing(key, "a port") }
            return port
        }
        let local = KernelSocket.End(address: try message.bytes("local"), port: try port("localPort"))
        let remote = KernelSocket.End(address: try message.bytes("remote"), port: try port("remotePort"))
        guard local.address.count == family.addressLength else { throw message.missing("local", "an address of \(family.addressLength) bytes") }
        guard let socket = KernelSocket(cookie: try message.unsigned("cookie"), family: family, local: local, remote: remote) else {
            throw message.missing("remote", "an address of \(family.addressLength) bytes")
        }
        return socket
    }

    /// A sequence number field, when present: 0 to Int32.max.
    private static func cas(_ message: RunnerMessage) throws(MalformedRunnerMessage) -> Int32? {
        guard message.has("cas") else { return nil }
        guard let number = Int32(exactly: try message.unsigned("cas")) else { throw message.missing("cas", "0 to \(Int32.max)") }
        return number
    }

    /// The units of a billing call, at most `Money.maxUnitsPerCall` (the runner checked them already).
    private static func units(_ message: RunnerMessage) throws(MalformedRunnerMessage) -> UInt64 {
        let amount = try message.unsigned("amount")
        guard amount <= Money.maxUnitsPerCall else { throw message.missing("amount", "at most \(Money.maxUnitsPerCall)") }
        return amount
    }

    private static func metricName(_ message: RunnerMessage, _ key: String) throws(MalformedRunnerMessage) -> String {
        let name = try message.text(key)
        guard PluginMetrics.isValidName(name) else { throw message.missing(key, "a metric name") }
        return name
    }
}
