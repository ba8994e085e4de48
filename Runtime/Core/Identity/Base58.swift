/// Base58 with the Bitcoin alphabet, no checksum or version byte: the text form of every Boson id.
///
/// Each leading zero byte becomes one leading `1`, and each leading `1` decodes to one zero byte.
public enum Base58 {
    static let alphabet = Array("123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz".utf8)

    private static let digitValues: [Int8] = {
        var table = [Int8](repeating: -1, count: 128)
        for (index, character) in alphabet.enumerated() { table[Int(character)] = Int8(index) }
        return table
    }()

    /// Encodes `bytes` as Base58 text.
    public static func encode(_ bytes: [UInt8]) -> String {
        let zeros = bytes.prefix { $0 == 0 }.count
        // Base-58 digits, least significant first.
        var digits: [UInt8] = []
        digits.reserveCapacity(bytes.count * 138 / 100 + 1)
        for byte in bytes[zeros...] {
            var carry = Int(byte)
            for index in digits.indices {
                carry += Int(digits[index]) << 8
                digits[index] = UInt8(carry % 58)
                carry /= 58
            }
            while carry > 0 {
                digits.append(UInt8(carry % 58))
                carry /= 58
            }
        }
        var text = [UInt8](repeating: alphabet[0], count: zeros)
        text.append(contentsOf: digits.reversed().map { alphabet[Int($0)] })
        return String(decoding: text, as: UTF8.self)
    }

    /// Decodes Base58 text, or returns nil if it holds a character outside the alphabet or is
    /// longer than `maxLength` characters (a bound that keeps decoding cheap on hostile input).
    public static func decode(_ text: String, maxLength: Int = 128) -> [UInt8]? {
        let characters = Array(text.utf8)
        guard characters.count <= maxLength else { return nil }
        let ones = characters.prefix { $0 == alphabet[0] }.count
        // Base-256 bytes, least significant first.
        var bytes: [UInt8] = []
        for character in characters[ones...] {
            guard character < 128, digitValues[Int(character)] >= 0 else { return nil }
            var carry = Int(digitValues[Int(character)])
            for index in bytes.indices {
                carry += Int(bytes[index]) * 58
                bytes[index] = UInt8(carry & 0xFF)
                carry >>= 8
            }
            while carry > 0 {
                bytes.append(UInt8(carry & 0xFF))
                carry >>= 8
            }
        }
        return [UInt8](repeating: 0, count: ones) + bytes.reversed()
    }
}
