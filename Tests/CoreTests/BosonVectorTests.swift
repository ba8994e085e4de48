import CarrierCore
import Testing
import TestSupport

/// The reference implementation's message pairs: both forms decode to one message, which re-encodes
/// to the same bytes and the same text.
@Suite(.enabled(if: SharedVectors.available, SharedVectors.skipReason))
struct BosonVectorTests {
    @Test func everyVectorDecodesFromBothFormsAndReencodesExactly() throws {
        let vectors = try SharedVectors.load()
        #expect(vectors.count >= 30)
        for vector in vectors {
            let bytes = try #require(Hex.decode(vector.cbor))
            let fromCBOR = try Message.decode(cbor: bytes)
            let fromJSON = try Message.decode(json: vector.json)
            #expect(fromCBOR == fromJSON, "\(vector.case): CBOR and JSON decode differently")
            #expect(Hex.encode(fromCBOR.cbor) == vector.cbor, "\(vector.case): CBOR re-encoding differs")
            #expect(fromCBOR.json == vector.json, "\(vector.case): JSON re-encoding differs")
            #expect(Hex.encode(fromJSON.cbor) == vector.cbor, "\(vector.case): JSON-to-CBOR differs")
        }
    }

    /// BOSON-WIRE.md §8: the encrypted values in the vectors carry valid owner signatures.
    @Test func encryptedValueSignaturesVerify() throws {
        var checked = 0
        for vector in try SharedVectors.load() {
            guard case .storeValueRequest(let request) = try Message.decode(json: vector.json).body,
                  request.value.kind == .encrypted else { continue }
            try request.value.validate()
            var altered = request.value
            altered.sequenceNumber += 1
            #expect(throws: ProtocolError.self) { try altered.validate() }
            checked += 1
        }
        #expect(checked >= 1)
    }
}
