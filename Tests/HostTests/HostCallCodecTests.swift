import CarrierCore
import CarrierDHT
@testable import CarrierHost
import CarrierPluginABI
import Testing

/// Every host call, with a reply it can get, through the runner's codec and back: the request as
/// the runner sends it and the host decodes it, the reply as the host sends it and the runner
/// decodes it for that request.
struct HostCallCodecTests {
    /// One example per `HostRequest` case (a new case gets a line here).
    static let calls: [(HostRequest, HostReply)] = {
        let owner = KeyPair.random(), peerKey = KeyPair.random(), id = KeyPair.random().publicKey
        let value = Value.signed(by: owner, sequenceNumber: 3, data: Array("three".utf8))
        let peer = PeerInfo.create(owner: peerKey, fingerprint: 7, endpoint: "tcp://127.0.0.1:9000")
        let node = NodeInfo(id: id, address: IPAddress(bytes: [127, 0, 0, 1])!, port: 39001)
        let socket = KernelSocket(cookie: 1 << 40, family: .ipv6, local: .init(address: Array(repeating: 1, count: 16), port: 40_000),
                                  remote: .init(address: Array(repeating: 2, count: 16), port: 51_234))!
        return [
            (.log(level: 4, text: "a warning"), .done),
            (.counter(name: "connections", delta: 1.5), .accepted(true)),
            (.gauge(name: "queue_depth", value: -2), .accepted(false)),
            (.usage(client: id, meter: "requests", amount: 7), .done),
            (.sign(data: [1, 2, 3]), .signature(owner.sign([1, 2, 3]))),
            (.sign(data: []), .signature(nil)),
            (.seal(plaintext: [9], recipient: id), .sealed(Array(repeating: 5, count: 41))),
            (.seal(plaintext: [9], recipient: id), .sealed(nil)),
            (.open(sealed: Array(repeating: 5, count: 41), sender: id), .opened(.opened([9]))),
            (.open(sealed: [], sender: id), .opened(.refused)),
            (.open(sealed: [], sender: id), .opened(.invalid)),
            (.authorize(client: id, meter: "requests", estimate: 1), .decision(CARRIER_BILLING_QUOTA_EXCEEDED, reason: "the free quota is used up")),
            (.settlementResult(batch: 12, paid: true, message: "paid"), .recorded(true)),
            (.announceService(type: "hello", endpoint: "tcp://{host}:80"), .announced(CARRIER_ERR_REFUSED, reason: "taken")),
            (.withdrawService(type: "hello"), .recorded(false)),
            (.findNode(target: id), .nodes([node])),
            (.findValue(id: owner.publicKey, cas: 2), .value(.found(value))),
            (.findValue(id: owner.publicKey, cas: nil), .value(.notFound)),
            (.findValue(id: owner.publicKey, cas: nil), .value(.unreachable)),
            (.findPeers(id: peerKey.publicKey, count: 8), .peers(.found([peer]))),
            (.findPeers(id: peerKey.publicKey, count: 8), .peers(.notFound)),
            (.findPeers(id: peerKey.publicKey, count: 8), .peers(.unreachable)),
            (.store(value: value, cas: 2), .written(WriteOutcome(accepted: 3, asked: 8, conflicts: 1))),
            (.store(value: Value.immutable([1]), cas: nil), .written(.none)),
            (.announce(peer: peer), .written(WriteOutcome(accepted: 8, asked: 8))),
            (.withdrawAllServices, .done),
            (.dhtStatus, .dhtStatus(RoutingTableCounts(goodIPv4: 4, dubiousIPv4: 1, goodIPv6: 2, dubiousIPv6: 0))),
            (.dhtStatus, .dhtStatus(nil)),
            (.clientPlan(client: id), .plan("pro")),
            (.clientPlan(client: id), .plan(nil)),
            (.countSocket(client: id, meter: "bytes_relayed", socket: socket, before: 1 << 50), .counted(CARRIER_OK)),
            (.countSocket(client: id, meter: "bytes_relayed", socket: socket, before: 7), .counted(CARRIER_ERR_NOT_FOUND)),
        ]
    }()

    @Test(arguments: calls) func aCallAndItsReplyCrossTheSocketUnchanged(request: HostRequest, reply: HostReply) throws {
        let id: UInt64? = request.delivery == .oneWay ? nil : 77
        let sent = try RunnerMessage.decode(request.message(id: id).encoded)
        #expect(try HostRequest(sent) == request)
        #expect(sent.id == id)
        let answered = try RunnerMessage.decode(RunnerMessage("result", id: 77, reply.fields).encoded)
        #expect(try HostReply(answered, answering: request) == reply)
    }

    @Test func aCallTheHostRefusedUnreadIsUnansweredAndFailsAsDocumented() throws {
        let empty = RunnerMessage("result", id: 1, HostReply.unanswered.fields)
        let id = KeyPair.random().publicKey
        #expect(try HostReply(empty, answering: .findNode(target: id)) == .unanswered)
        #expect(try HostReply(empty, answering: .authorize(client: id, meter: "m", estimate: 1)) == .unanswered)
        #expect(try HostReply(empty, answering: .store(value: Value.immutable([1]), cas: nil)) == .unanswered)
        #expect(try HostReply(empty, answering: .clientPlan(client: id)) == .unanswered, "not the same as a manifest without plans")
    }

    /// A `count_socket` message with these fields.
    static func countSocket(family: UInt64, address: Int, port: UInt64 = 40_000) -> RunnerMessage {
        RunnerMessage("count_socket", id: 1, ["client": .bytes(Array(repeating: 1, count: 32)), "meter": .text("bytes"), "cookie": .unsigned(9),
                                               "family": .unsigned(family), "local": .bytes(Array(repeating: 1, count: address)),
                                               "localPort": .unsigned(port), "remote": .bytes(Array(repeating: 2, count: address)),
                                               "remotePort": .unsigned(50_000), "before": .unsigned(1)])
    }

    @Test func aRequestThatBreaksTheCallsRulesIsMalformed() {
        let cases: [(RunnerMessage, String)] = [
            (RunnerMessage("find_peers", id: 1, ["target": .bytes(Array(repeating: 1, count: 32)), "count": .unsigned(9)]), "`count` must be 1 to 8"),
            (RunnerMessage("counter", ["name": .text("Bad-Name"), "amount": .unsigned(0)]), "`name` must be a metric name"),
            (RunnerMessage("find_node", ["target": .bytes(Array(repeating: 1, count: 32))]), "`id` must be present on find_node"),
            (RunnerMessage("store", id: 1, ["value": RunnerMessage.encode(value: Value.immutable([1])), "cas": .unsigned(1 << 40)]), "`cas` must be 0 to"),
            (RunnerMessage("teleport", id: 1), "unknown op \"teleport\""),
            (Self.countSocket(family: 5, address: 4), "`family` must be 4 or 6"),
            (Self.countSocket(family: 6, address: 4), "`local` must be an address of 16 bytes"),
            (Self.countSocket(family: 4, address: 4, port: 70_000), "`localPort` must be a port"),
        ]
        for (message, reason) in cases {
            #expect { try HostRequest(message) } throws: { "\($0)".contains(reason) }
        }
    }
}
