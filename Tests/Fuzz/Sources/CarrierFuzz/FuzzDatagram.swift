/// Target `datagram`: the path a UDP datagram takes through Carrier.
///
/// Each input is used three ways:
/// 1. as a raw datagram: `DatagramEnvelope.open` with a fixed receiver identity (almost always
///    refused: short, oversized, bad sender key or bad MAC — it must refuse, never trap);
/// 2. as a plaintext CBOR message: sealed by a fixed sender to the receiver, opened again (which must
///    succeed and give back the same bytes and sender), then decoded — so the decoder is reached
///    behind a valid MAC, as it is in production;
/// 3. as a CBOR message decoded directly with `Message.decode(cbor:)`.
///
/// Every message that decodes is re-encoded and must round-trip through both wire forms:
/// `decode(cbor: m.cbor) == m` and `decode(json: m.json) == m`. A failed invariant calls
/// `fatalError`, which libFuzzer reports as a crash, like a trap in the code under test.
import CarrierCore
import CarrierDHT

/// The node receiving datagrams (seed 01…01) and the peer sending them (seed 02…02).
let receiver = DatagramEnvelope(identity: try! KeyPair(seed: [UInt8](repeating: 1, count: 32)))
let sender = DatagramEnvelope(identity: try! KeyPair(seed: [UInt8](repeating: 2, count: 32)))

/// Smallest plaintext the envelope opens: its 74-byte floor minus the 72-byte overhead.
let minimumMessageSize = DatagramEnvelope.minimumDatagramSize - DatagramEnvelope.overhead

func fuzzDatagram(_ bytes: [UInt8]) {
    let size = bytes.count

    // 1. Raw datagram.
    if let opened = try? receiver.open(bytes, family: .ipv4) { decodeAndCheck(opened.message) }

    // 2. Sealed plaintext: seal throws when oversized, which is fine.
    if size >= minimumMessageSize, let datagram = try? sender.seal(bytes, to: receiver.identity.publicKey, family: .ipv4) {
        let opened: (sender: Id, message: [UInt8])
        do { opened = try receiver.open(datagram, family: .ipv4) } catch {
            fatalError("a freshly sealed \(datagram.count)-byte datagram did not open: \(error)")
        }
        guard opened.sender == sender.identity.publicKey, opened.message == bytes else {
            fatalError("seal/open did not give back the sender and plaintext")
        }
        decodeAndCheck(opened.message)
    }

    // 3. Direct decode.
    decodeAndCheck(bytes)
}

/// Decodes `bytes` as a CBOR message; if that succeeds, checks the CBOR and JSON round trips.
func decodeAndCheck(_ bytes: [UInt8]) {
    guard let message = try? Message.decode(cbor: bytes) else { return }
    let cbor = message.cbor
    do {
        let again = try Message.decode(cbor: cbor)
        guard again == message else { fatalError("CBOR round trip changed the message:\n\(message)\n\(again)") }
    } catch { fatalError("re-encoded CBOR \(Hex.encode(cbor)) does not decode: \(error)") }
    let json = message.json
    do {
        let again = try Message.decode(json: json)
        guard again == message else { fatalError("JSON round trip changed the message:\n\(message)\n\(again)") }
    } catch { fatalError("re-encoded JSON \(json) does not decode: \(error)") }
}
