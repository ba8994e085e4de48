import CarrierCore
import CarrierDHT
import CarrierPluginABI

/// The host's answer to one `HostRequest`, and its form on a runner's socket (the fields of a
/// `result` message; which reply a result holds follows from the request it answers).
enum HostReply: Sendable, Equatable {
    /// A one-way call, or one with nothing to return.
    case done
    /// A counter or gauge update: false if the name is already the other kind.
    case accepted(Bool)
    /// The node's signature; nil if the host could not sign.
    case signature([UInt8]?)
    /// `nonce ‖ MAC ‖ ciphertext`; nil if the recipient is not a valid key.
    case sealed([UInt8]?)
    case opened(OpenOutcome)
    case decision(carrier_billing_decision, reason: String)
    /// Whether a settlement result or a withdrawal was recorded.
    case recorded(Bool)
    /// An announcement: CARRIER_OK, or the status and why.
    case announced(carrier_status, reason: String)
    case nodes([NodeInfo])
    /// The value found, or whether the closest nodes were asked (not found) or none answered.
    case value(SearchOutcome<Value>)
    /// The records found (none when `.notFound`), or that no node answered.
    case peers(SearchOutcome<[PeerInfo]>)
    case written(WriteOutcome)
    /// The routing-table counts; nil if the host could not tell.
    case dhtStatus(RoutingTableCounts?)
    /// A client's plan: its name, nil when the manifest has no plans.
    case plan(String?)
    /// A socket handed to the host to count: CARRIER_OK, or why not.
    case counted(carrier_status)
    /// No answer came: the host is gone, did not answer in time, or refused the call unread (a
    /// runner over its in-flight limit). Each call then fails as its documentation says.
    case unanswered

    // MARK: On the runner's socket

    /// The fields of the `result` message that carries this reply.
    var fields: [String: CBOR] {
        switch self {
        case .done, .unanswered, .signature(nil), .sealed(nil), .opened(.invalid), .dhtStatus(nil): [:]
        case .accepted(let accepted), .recorded(let accepted): ["status": .unsigned(UInt64((accepted ? CARRIER_OK : CARRIER_ERR_NOT_FOUND).rawValue))]
        case .signature(let signature?): ["signature": .bytes(signature)]
        case .sealed(let sealed?): ["sealed": .bytes(sealed)]
        case .opened(.opened(let plain)): ["opened": .bytes(plain)]
        case .opened(.refused): ["refused": .unsigned(1)]
        case .decision(let decision, let reason): ["decision": .unsigned(UInt64(decision.rawValue)), "reason": .text(reason)]
        case .announced(let status, let reason): ["status": .unsigned(UInt64(status.rawValue)), "reason": .text(reason)]
        case .nodes(let nodes): ["nodes": RunnerMessage.encode(nodes: nodes)]
        case .value(.found(let value)): ["value": RunnerMessage.encode(value: value)]
        case .peers(.found(let peers)): ["peers": RunnerMessage.encode(peers: peers)]
        case .value(.notFound), .peers(.notFound): ["notFound": .unsigned(1)]
        case .value(.unreachable), .peers(.unreachable): ["unreachable": .unsigned(1)]
        case .written(let outcome):
            ["accepted": .unsigned(UInt64(outcome.accepted)), "asked": .unsigned(UInt64(outcome.asked)), "conflicts": .unsigned(UInt64(outcome.conflicts))]
        case .plan(let name?): ["plan": .text(name)]
        case .plan(nil): ["noPlans": .unsigned(1)]
        case .counted(let status): ["status": .unsigned(UInt64(status.rawValue))]
        case .dhtStatus(let status?):
            ["good4": .unsigned(UInt64(status.goodIPv4)), "dubious4": .unsigned(UInt64(status.dubiousIPv4)),
             "good6": .unsigned(UInt64(status.goodIPv6)), "dubious6": .unsigned(UInt64(status.dubiousIPv6))]
        }
    }

    /// The reply in `message`, a `result` for `request`. A result without the fields its request
    /// answers with (the host refused the call unread) is `.unanswered`; fields of the wrong type
    /// are `MalformedRunnerMessage`.
    init(_ message: RunnerMessage, answering request: HostRequest) throws(MalformedRunnerMessage) {
        func present(_ keys: String...) -> Bool { keys.allSatisfy(message.has) }
        func count(_ key: String) throws(MalformedRunnerMessage) -> Int { Int(clamping: try message.unsigned(key)) }
        func status(_ key: String) throws(MalformedRunnerMessage) -> carrier_status {
            guard let raw = UInt32(exactly: try message.unsigned(key)) else { throw message.missing(key, "a status") }
            return carrier_status(rawValue: raw)
        }
        switch request {
        case .log, .usage: self = .done
        case .counter, .gauge: self = present("status") ? .accepted(try status("status") == CARRIER_OK) : .unanswered
        case .settlementResult, .withdrawService: self = present("status") ? .recorded(try status("status") == CARRIER_OK) : .unanswered
        case .sign: self = present("signature") ? .signature(try message.bytes("signature")) : .signature(nil)
        case .seal: self = present("sealed") ? .sealed(try message.bytes("sealed")) : .sealed(nil)
        case .open:
            self = present("opened") ? .opened(.opened(try message.bytes("opened"))) : .opened(present("refused") ? .refused : .invalid)
        case .authorize:
            guard present("decision") else { self = .unanswered; return }
            guard let raw = UInt32(exactly: try message.unsigned("decision")) else { throw message.missing("decision", "a billing decision") }
            self = .decision(carrier_billing_decision(rawValue: raw), reason: try message.text("reason"))
        case .announceService:
            guard present("status") else { self = .unanswered; return }
            self = .announced(try status("status"), reason: present("reason") ? try message.text("reason") : "")
        case .findNode: self = present("nodes") ? .nodes(try message.nodes("nodes")) : .unanswered
        case .findValue:
            if present("notFound") { self = .value(.notFound) } else if present("unreachable") { self = .value(.unreachable) }
            else { self = present("value") ? .value(.found(try message.value("value"))) : .unanswered }
        case .findPeers:
            if present("notFound") { self = .peers(.notFound) } else if present("unreachable") { self = .peers(.unreachable) }
            else { self = present("peers") ? .peers(.found(try message.peers("peers"))) : .unanswered }
        case .store, .announce:
            guard present("accepted", "asked") else { self = .unanswered; return }
            self = .written(WriteOutcome(accepted: try count("accepted"), asked: try count("asked"),
                                         conflicts: present("conflicts") ? try count("conflicts") : 0))
        case .withdrawAllServices: self = .done
        case .clientPlan:
            if present("noPlans") { self = .plan(nil) } else { self = present("plan") ? .plan(try message.text("plan")) : .unanswered }
        case .countSocket: self = present("status") ? .counted(try status("status")) : .unanswered
        case .dhtStatus:
            guard present("good4", "dubious4", "good6", "dubious6") else { self = .dhtStatus(nil); return }
            self = .dhtStatus(RoutingTableCounts(goodIPv4: try count("good4"), dubiousIPv4: try count("dubious4"), goodIPv6: try count("good6"),
                                        dubiousIPv6: try count("dubious6")))
        }
    }
}
