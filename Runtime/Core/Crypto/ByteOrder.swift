/// Big-endian byte encodings used inside signed payloads (BOSON-WIRE.md §4–5).
public enum BigEndian {
    /// Four bytes, most significant first.
    public static func bytes(_ value: Int32) -> [UInt8] {
        let raw = UInt32(bitPattern: value)
        return [UInt8(raw >> 24), UInt8(truncatingIfNeeded: raw >> 16), UInt8(truncatingIfNeeded: raw >> 8), UInt8(truncatingIfNeeded: raw)]
    }

    /// Eight bytes, most significant first.
    public static func bytes(_ value: Int64) -> [UInt8] {
        let raw = UInt64(bitPattern: value)
        return (0..<8).map { UInt8(truncatingIfNeeded: raw >> (56 - 8 * UInt64($0))) }
    }
}
