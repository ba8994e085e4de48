import CarrierCore
import Testing

/// Base58, text forms, XOR distance and ordering (BOSON-WIRE.md §1 and §8).
struct IdTests {
    static let base58Pairs = [
        ("HVG7zCqPqKVyxwwwKtC43EasxA3U7uVDLDU2EkRdKoA5", "f4f859a871aac9a88f23ff8c95a59efb94f35b7d0781c3b84322caf6f462ced6"),
    ]
    static let prefixPairs = [
        ("A2LHHwWJVwvpsaPxsPkjPSLCsq8paiKiR95XSPtZTP1p", "8610906a", "1ad00037"),
        ("84jivoRPZUX5jfpASKGrQ7JJT6Aj79s9Que6KBLdg6Pp", "68f6db9b", "9a1a9e97"),
        ("7n2GPcHPPjuJzD25rbTUkAMGqVWEB2rcFso2wfGYfbAo", "64aeb04e", "d59975c0"),
        ("2WssfJZmWESjfU1LrKsYNZQTyj9obAkn5mSqfyP6fqAe", "16830d9d", "f7091eef"),
        ("DP6Cn2Rs6nKQTdjN6yNZSaiyUT84HmcwRn1iLZFWpAWm", "b7f4e76d", "3ff8006a"),
        ("CA2GZdWvehqS6zH16xpUzNRgHpqAayo1asd9xUAJwRmB", "a5c037b2", "3191b4c2"),
        ("GBqLq7mKXLm9D9fckNBfFSHYoNyHk6GgFHN2iF72ktL5", "e1a5c5b7", "ad119f06"),
    ]

    @Test func base58MatchesTheReference() throws {
        for (text, hex) in Self.base58Pairs {
            let id = try #require(Id(text))
            #expect(id.hex == hex)
            #expect(id.base58 == text)
            #expect(Id(bytes: Hex.decode(hex)!) == id)
        }
        for (text, head, tail) in Self.prefixPairs {
            let id = try #require(Id(text), "\(text) does not parse")
            #expect(id.hex.hasPrefix(head) && id.hex.hasSuffix(tail), "\(text) decodes to \(id.hex)")
            #expect(id.base58 == text)
        }
    }

    @Test func plusOneGivesTheNeighbourUsedInVectors() throws {
        let id = try #require(Id("HVG7zCqPqKVyxwwwKtC43EasxA3U7uVDLDU2EkRdKoA5"))
        let one = Id(bytes: [UInt8](repeating: 0, count: 31) + [1])!
        #expect(id.adding(one).base58 == "HVG7zCqPqKVyxwwwKtC43EasxA3U7uVDLDU2EkRdKoA6")
    }

    @Test func leadingZeroBytesBecomeOnes() {
        let id = Id(bytes: [0, 0] + [UInt8](repeating: 0xAB, count: 30))!
        #expect(id.base58.hasPrefix("11"))
        #expect(Id(base58: id.base58) == id)
        #expect(Id.zero.base58 == String(repeating: "1", count: 32))
        #expect(Id(base58: Id.zero.base58) == .zero)
    }

    @Test func otherTextFormsAndRejections() throws {
        let id = try #require(Id("HVG7zCqPqKVyxwwwKtC43EasxA3U7uVDLDU2EkRdKoA5"))
        #expect(Id("0x" + id.hex) == id)
        #expect(Id("did:boson:" + id.base58) == id)
        #expect(Id("HVG7zCqPqKVyxwwwKtC43Easx") == nil, "too short")
        #expect(Id("0OIl" + String(id.base58.dropFirst(4))) == nil, "characters outside the alphabet")
        #expect(Id("0x" + String(id.hex.dropLast(2))) == nil)
        #expect(Id("") == nil)
        #expect(Id(String(repeating: "z", count: 45)) == nil, "more than 32 bytes")
    }

    @Test func distanceMatchesIdTestsOfTheReference() throws {
        let a = Id("0x00000000f528d6132c15787ed16f09b08a4e7de7e2c5d3838974711032cb7076")!
        let b = Id("0x00000000f0a8d6132c15787ed16f09b08a4e7de7e2c5d3838974711032cb7076")!
        #expect(a.distance(to: b).hex == "0000000005800000" + String(repeating: "0", count: 48))
        #expect(a.approximateDistance(to: b) == 219)
        #expect(a.approximateDistance(to: a) == 0)
        #expect(a.distance(to: a) == .zero)
    }

    @Test func orderingIsUnsignedBigEndian() {
        let small = Id(bytes: [0x7F] + [UInt8](repeating: 0xFF, count: 31))!
        let large = Id(bytes: [0x80] + [UInt8](repeating: 0, count: 31))!
        #expect(small < large)
        #expect([large, .max, .zero, small].sorted() == [.zero, small, large, .max])
        let target = Id.zero
        #expect(target.isCloser(small, than: large))
        #expect(!target.isCloser(small, than: small))
    }

    @Test func randomIdsRoundTripThroughEveryTextForm() {
        for _ in 0..<200 {
            let id = Id.random()
            #expect(Id(base58: id.base58) == id)
            #expect(Id("0x" + id.hex) == id)
            #expect(Id(bytes: id.bytes) == id)
            #expect(id.distance(to: id.distance(to: .max)) == .max)
        }
    }

    @Test func base64URLIsUnpaddedAndCanonical() {
        #expect(Base64URL.encode(Array("This is a signed value".utf8)) == "VGhpcyBpcyBhIHNpZ25lZCB2YWx1ZQ")
        #expect(Base64URL.decode("VGhpcyBpcyBhIHNpZ25lZCB2YWx1ZQ") == Array("This is a signed value".utf8))
        #expect(Base64URL.decode("VGhpcw==") == nil, "padding is refused")
        #expect(Base64URL.decode("VGhpcx") == nil, "non-zero trailing bits are refused")
        #expect(Base64URL.decode("V") == nil)
        #expect(Base64URL.decode("a+b/") == nil, "standard alphabet is refused")
        for length in 0..<40 {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 * 37 + 11) }
            #expect(Base64URL.decode(Base64URL.encode(bytes)) == bytes)
        }
    }
}
