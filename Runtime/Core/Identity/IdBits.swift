/// Bitwise operations on ids, for routing-table bucket ranges. Bit 0 is the most significant bit.
extension Id {
    private var words: [UInt64] { [w0, w1, w2, w3] }

    private init(words: [UInt64]) {
        self.init(w0: words[0], w1: words[1], w2: words[2], w3: words[3])
    }

    /// The id with its first `bits` bits set and the rest clear (0...256).
    public static func prefixMask(bits: Int) -> Id {
        Id(words: (0..<4).map { index in
            let bitsInWord = Swift.min(64, Swift.max(0, bits - index * 64))
            return bitsInWord == 0 ? 0 : UInt64.max << UInt64(64 - bitsInWord)
        })
    }

    /// This id with bit `index` (0 = most significant) set.
    public func settingBit(_ index: Int) -> Id {
        var words = self.words
        words[index / 64] |= 1 << UInt64(63 - index % 64)
        return Id(words: words)
    }

    /// Whether bit `index` (0 = most significant) is set.
    public func bit(_ index: Int) -> Bool {
        words[index / 64] & (1 << UInt64(63 - index % 64)) != 0
    }

    public static func & (lhs: Id, rhs: Id) -> Id {
        Id(w0: lhs.w0 & rhs.w0, w1: lhs.w1 & rhs.w1, w2: lhs.w2 & rhs.w2, w3: lhs.w3 & rhs.w3)
    }

    public static func | (lhs: Id, rhs: Id) -> Id {
        Id(w0: lhs.w0 | rhs.w0, w1: lhs.w1 | rhs.w1, w2: lhs.w2 | rhs.w2, w3: lhs.w3 | rhs.w3)
    }

    public static prefix func ~ (id: Id) -> Id {
        Id(w0: ~id.w0, w1: ~id.w1, w2: ~id.w2, w3: ~id.w3)
    }
}
