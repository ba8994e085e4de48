import CarrierCore
import Testing

/// The strict CBOR decoder: round trips, the reference's byte forms, and refusal of every malformed
/// or over-limit input with the expected reason.
struct CBORTests {
    private func decode(_ hex: String, limits: CBORLimits = .standard) throws(CBORError) -> CBOR {
        try CBORDecoder.decode(Hex.decode(hex.replacingOccurrences(of: " ", with: ""))!, limits: limits)
    }

    @Test func integersUseTheShortestForm() {
        let cases: [(Int64, String)] = [
            (0, "00"), (23, "17"), (24, "1818"), (255, "18ff"), (256, "190100"), (65535, "19ffff"),
            (65536, "1a00010000"), (4_294_967_296, "1b0000000100000000"), (-1, "20"), (-24, "37"),
            (-25, "3818"), (-1000, "3903e7"), (Int64.min, "3b7fffffffffffffff"),
        ]
        for (value, hex) in cases {
            var writer = CBORWriter()
            writer.signed(value)
            #expect(Hex.encode(writer.bytes) == hex, "\(value)")
            #expect((try? decode(hex))?.int64 == value)
        }
    }

    @Test func indefiniteAndDefiniteContainersBothDecode() throws {
        #expect(try decode("bf 6161 01 ff") == .map([CBOR.Entry("a", .unsigned(1))]))
        #expect(try decode("a1 6161 01") == .map([CBOR.Entry("a", .unsigned(1))]))
        #expect(try decode("9f 01 02 ff") == .array([.unsigned(1), .unsigned(2)]))
        #expect(try decode("82 01 02") == .array([.unsigned(1), .unsigned(2)]))
        #expect(try decode("1a 0000 0001") == .unsigned(1), "non-shortest integers are valid CBOR and accepted")
    }

    /// Each malformed input yields its own reason, never a trap.
    @Test(arguments: [
        ("", CBORError.Reason.empty),
        ("18", .truncated(needed: 1)),
        ("1a 0000", .truncated(needed: 2)),
        ("45 0102", .truncated(needed: 3)),
        ("bf 6161 01", .truncated(needed: 1)),
        ("82 01", .truncated(needed: 1)),
        ("01 02", .trailingBytes(count: 1)),
        ("1c", .reservedAdditionalInfo(28)),
        ("ff", .unexpectedBreak),
        ("82 01 ff", .unexpectedBreak),
        ("5f 41 00 ff", .indefiniteString),
        ("c1 00", .unsupportedTag),
        ("f5", .unsupportedSimpleValue(21)),
        ("f6", .unsupportedSimpleValue(22)),
        ("fb 3ff0000000000000", .unsupportedSimpleValue(27)),
        ("62 c328", .invalidUTF8),
        ("a1 01 02", .nonTextMapKey("integer")),
        ("a2 6161 01 6161 02", .duplicateKey("a")),
        ("1f", .reservedAdditionalInfo(31)),
        ("9b ffffffffffffffff", .collectionTooLarge(count: UInt64.max, limit: 1024)),
        ("5a 00010000", .stringTooLong(length: 65536, limit: 4096)),
    ])
    func malformedInputIsRefused(hex: String, reason: CBORError.Reason) {
        #expect(throws: CBORError.self) { try decode(hex) }
        do { _ = try decode(hex) } catch { #expect(error.reason == reason, "\(hex): \(error)") }
    }

    @Test func duplicateKeysAreFoundInLargeMapsToo() throws {
        func map(_ keys: [String]) -> [UInt8] {
            var writer = CBORWriter()
            writer.beginIndefiniteMap()
            for key in keys {
                writer.textString(key)
                writer.unsigned(1)
            }
            writer.endIndefinite()
            return writer.bytes
        }
        let distinct = (0..<40).map { "k\($0)" }
        #expect(try CBORDecoder.decode(map(distinct)) != .unsigned(0))
        for duplicate in ["k3", "k15", "k16", "k39"] {
            #expect { try CBORDecoder.decode(map(distinct + [duplicate])) } throws: { ($0 as? CBORError)?.reason == .duplicateKey(duplicate) }
        }
    }

    @Test func limitsAreEnforced() {
        let deep = String(repeating: "81", count: 17) + "00"
        #expect { try decode(deep) } throws: { ($0 as? CBORError)?.reason == .tooDeep(limit: 16) }
        #expect((try? decode(String(repeating: "81", count: 16) + "00")) != nil)
        let longKey = "a1 78 21 " + String(repeating: "61", count: 33) + " 00"
        #expect { try decode(longKey) } throws: { ($0 as? CBORError)?.reason == .keyTooLong(length: 33, limit: 32) }
        var small = CBORLimits()
        small.maxInputSize = 4
        #expect { try decode("4400000000", limits: small) } throws: { ($0 as? CBORError)?.reason == .inputTooLarge(size: 5, limit: 4) }
        let manyItems = "9f" + String(repeating: "00", count: 1025) + "ff"
        #expect { try decode(manyItems) } throws: { ($0 as? CBORError)?.reason == .collectionTooLarge(count: 1025, limit: 1024) }
    }

    /// Property: any tree of the profile, each container written definite or indefinite at random
    /// (the wire uses both), survives encode → decode unchanged.
    @Test func randomTreesRoundTrip() throws {
        var random = SeededGenerator(seed: 0xC0FFEE)
        for _ in 0..<500 {
            let tree = randomTree(depth: 0, using: &random)
            var writer = CBORWriter()
            write(tree, to: &writer, using: &random)
            #expect(try CBORDecoder.decode(writer.bytes) == tree)
        }
    }

    /// Property: cutting any valid encoding short, or flipping bytes in it, never traps.
    @Test func truncationsAndBitFlipsNeverTrap() throws {
        var random = SeededGenerator(seed: 42)
        for _ in 0..<200 {
            var writer = CBORWriter()
            write(randomTree(depth: 0, using: &random), to: &writer, using: &random)
            let bytes = writer.bytes
            for cut in 0..<bytes.count {
                #expect(throws: CBORError.self) { try CBORDecoder.decode(Array(bytes[0..<cut])) }
            }
            var flipped = bytes
            flipped[Int.random(in: 0..<flipped.count, using: &random)] ^= UInt8.random(in: 1...255, using: &random)
            _ = try? CBORDecoder.decode(flipped)
        }
    }

    /// Writes `tree` choosing definite or indefinite form for each container at random.
    private func write(_ tree: CBOR, to writer: inout CBORWriter, using random: inout SeededGenerator) {
        let indefinite = Bool.random(using: &random)
        switch tree {
        case .array(let elements):
            if indefinite { writer.beginIndefiniteArray() } else { writer.beginArray(count: elements.count) }
            for element in elements { write(element, to: &writer, using: &random) }
            if indefinite { writer.endIndefinite() }
        case .map(let entries):
            if indefinite { writer.beginIndefiniteMap() } else { writer.beginMap(count: entries.count) }
            for entry in entries {
                writer.textString(entry.key)
                write(entry.value, to: &writer, using: &random)
            }
            if indefinite { writer.endIndefinite() }
        default:
            writer.item(tree)
        }
    }

    private func randomTree(depth: Int, using random: inout SeededGenerator) -> CBOR {
        let choice = depth >= 4 ? Int.random(in: 0..<4, using: &random) : Int.random(in: 0..<6, using: &random)
        switch choice {
        case 0: return .unsigned(UInt64.random(in: 0...UInt64.max, using: &random) >> UInt64.random(in: 0...63, using: &random))
        case 1: return .negative(UInt64.random(in: 0...UInt64.max, using: &random) >> UInt64.random(in: 0...63, using: &random))
        case 2: return .bytes(random.bytes(Int.random(in: 0...40, using: &random)))
        case 3: return .text(String((0..<Int.random(in: 0...12, using: &random)).map { _ in "aé€😀z".randomElement(using: &random)! }))
        case 4: return .array((0..<Int.random(in: 0...5, using: &random)).map { _ in randomTree(depth: depth + 1, using: &random) })
        default:
            let count = Int.random(in: 0...5, using: &random)
            return .map((0..<count).map { CBOR.Entry("k\($0)", randomTree(depth: depth + 1, using: &random)) })
        }
    }
}
