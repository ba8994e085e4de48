/// Target `runner`: a datagram on the socket between the host and a plugin runner
/// (`RunnerMessage.decode`, in CarrierHost; reached with `@testable import CarrierHost`, run.sh
/// adds `-enable-testing`), and every field of a message through each typed reader the host and
/// the runner use (`text`, `bytes`, `unsigned`, `double`, `id`, and the records: `value`, `peers`,
/// `nodes`, which run the Boson wire decoder on the nested bytes).
///
/// Invariants: a decoded message re-encodes and decodes equal (`decode(m.encoded) == m`); a record
/// read from a field, written into a message again (`encode(value:)`, `encode(peers:)`,
/// `encode(nodes:)`) and read back, is the same record.
@testable import CarrierHost
import CarrierCore

func fuzzRunner(_ input: [UInt8]) {
    guard let message = try? RunnerMessage.decode(input) else { return }
    let encoded = message.encoded
    do {
        let again = try RunnerMessage.decode(encoded)
        invariant(again == message, "runner message round trip changed it:\n\(message)\n\(again)")
    } catch { fatalError("the encoding \(Hex.encode(encoded)) of a decoded runner message is refused: \(error)") }

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
