/// Target `runner`: a datagram on the socket between the host and a plugin runner
/// (`RunnerMessage.decode`, in CarrierHost; reached with `@testable import CarrierHost`, run.sh
/// adds `-enable-testing`), and every field of a message through each typed reader the host and
/// the runner use (`text`, `bytes`, `unsigned`, `double`, `id`, and the records: `value`, `peers`,
/// `nodes`, which run the Boson wire decoder on the nested bytes).
///
/// The message is also read as the host reads a runner's call (`HostRequest`) and as the runner
/// reads the host's answer to each kind of call (`HostReply`).
///
/// Invariants: a decoded message re-encodes and decodes equal (`decode(m.encoded) == m`); a record
/// read from a field, written into a message again (`encode(value:)`, `encode(peers:)`,
/// `encode(nodes:)`) and read back, is the same record; a call read from a message, written again
/// (`HostRequest.message(id:)`) and read back, is the same call (but for a log line over
/// `HostRequest.maxLogBytes`, which the runner cuts, and a NaN metric, which equals nothing).
@testable import CarrierHost
import CarrierCore

func fuzzRunner(_ input: [UInt8]) {
    guard let message = try? RunnerMessage.decode(input) else { return }
    let encoded = message.encoded
    do {
        let again = try RunnerMessage.decode(encoded)
        invariant(again == message, "runner message round trip changed it:\n\(message)\n\(again)")
    } catch { fatalError("the encoding \(Hex.encode(encoded)) of a decoded runner message is refused: \(error)") }

    if let request = try? HostRequest(message) { checkRoundTrip(request) }
    for request in sampleRequests { _ = try? HostReply(message, answering: request) }

    for key in message.fields.keys {
        _ = try? message.text(key)
        _ = try? message.bytes(key)
        _ = try? message.double(key)
        _ = try? message.id(key)
        if let value = try? message.value(key) {
            check(RunnerMessage.encode(value: value), reads: value) { try $0.value("v") }
        }
        if let peers = try? message.peers(key) {
            check(RunnerMessage.encode(peers: peers), reads: peers) { try $0.peers("v") }
        }
        if let nodes = try? message.nodes(key) {
            check(RunnerMessage.encode(nodes: nodes), reads: nodes) { try $0.nodes("v") }
        }
    }
}

/// `field`, sent in a message of its own and read back with `read`, gives `expected`.
private func check<Record: Equatable>(_ field: CBOR, reads expected: Record, _ read: (RunnerMessage) throws -> Record) {
    let bytes = RunnerMessage("result", id: 1, ["v": field]).encoded
    do {
        let again = try read(try RunnerMessage.decode(bytes))
        invariant(again == expected, "a record changed on its way through a runner message:\n\(expected)\n\(again)")
    } catch { fatalError("a record written into a runner message (\(Hex.encode(bytes))) does not read back: \(error)") }
}

/// A call written into a message and read back is the same call.
private func checkRoundTrip(_ request: HostRequest) {
    switch request {
    case .log(_, let text) where text.utf8.count > HostRequest.maxLogBytes: return
    case .counter(_, let number) where number.isNaN, .gauge(_, let number) where number.isNaN: return
    default: break
    }
    let bytes = request.message(id: 1).encoded
    do {
        let again = try HostRequest(try RunnerMessage.decode(bytes))
        invariant(again == request, "a host call changed on its way through a runner message:\n\(request)\n\(again)")
    } catch { fatalError("a host call written into a runner message (\(Hex.encode(bytes))) does not read back: \(error)") }
}

/// One call of each reply shape, to read any message as the answer to it.
private let sampleRequests: [HostRequest] = {
    let id = Id(bytes: [UInt8](repeating: 1, count: 32))!
    return [.counter(name: "c", delta: 1), .sign(data: []), .seal(plaintext: [], recipient: id), .open(sealed: [], sender: id),
            .authorize(client: id, meter: "m", estimate: 1), .settlementResult(batch: 1, paid: true, message: ""),
            .announceService(type: "t", endpoint: "e"), .findNode(target: id), .findValue(id: id, cas: nil),
            .findPeers(id: id, count: 1), .store(value: Value.immutable([1]), cas: nil), .dhtStatus, .clientPlan(client: id),
            .countSocket(client: id, meter: "m", socket: KernelSocket(cookie: 1, family: .ipv4, local: .init(address: [127, 0, 0, 1], port: 1),
                                                                      remote: .init(address: [127, 0, 0, 1], port: 2))!, before: 1)]
}()
