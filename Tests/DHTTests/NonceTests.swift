@testable import CarrierDHT
import Testing

/// The 192-bit little-endian nonce counter behind the envelope's nonces and reflection check.
struct NonceTests {
    private func nonce(_ bytes: [UInt8]) -> Nonce { bytes.withUnsafeBytes { Nonce($0) } }

    @Test func advancingCarriesAcrossWords() {
        let start = nonce([UInt8](repeating: 0xFF, count: 8) + [0x01] + [UInt8](repeating: 0, count: 15))
        let next = start.advanced(by: 1)
        #expect(next == nonce([UInt8](repeating: 0, count: 8) + [0x02] + [UInt8](repeating: 0, count: 15)))
        #expect(next.distance(from: start) == 1)
        let top = nonce([UInt8](repeating: 0xFF, count: 24))
        #expect(top.advanced(by: 1) == nonce([UInt8](repeating: 0, count: 24)), "wraps modulo 2^192")
        #expect(top.advanced(by: 1).distance(from: top) == 1)
    }

    @Test func distanceIsNilBeyond64Bits() {
        let start = nonce([UInt8](repeating: 0, count: 24))
        #expect(nonce([5] + [UInt8](repeating: 0, count: 23)).distance(from: start) == 5)
        #expect(nonce([UInt8](repeating: 0, count: 8) + [1] + [UInt8](repeating: 0, count: 15)).distance(from: start) == nil)
        #expect(start.distance(from: nonce([1] + [UInt8](repeating: 0, count: 23))) == nil, "before the start")
    }

    @Test func bytesRoundTripLittleEndian() {
        let bytes = (0..<24).map { UInt8($0 * 7 + 1) }
        var output = [UInt8](repeating: 0, count: 30)
        output.withUnsafeMutableBytes { nonce(bytes).store(into: $0, at: 3) }
        #expect(Array(output[3..<27]) == bytes)
        #expect(nonce(bytes).low == 0x322B_241D_160F_0801, "byte 0 is the least significant")
    }
}
