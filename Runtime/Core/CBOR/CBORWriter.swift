/// Appends CBOR headers and items to a byte buffer, always in the shortest integer form.
///
/// Whether a container is written definite or indefinite is the caller's choice: the Boson wire form
/// (BOSON-WIRE.md §3) needs indefinite maps and node infos but definite lists.
public struct CBORWriter {
    /// The bytes written so far.
    public private(set) var bytes: [UInt8] = []

    public init(capacity: Int = 256) {
        bytes.reserveCapacity(capacity)
    }

    /// The item's header: the major type and its argument, in the shortest form (no array
    /// temporaries: this runs for every item of every datagram).
    private mutating func header(major: UInt8, argument: UInt64) {
        let type = major << 5
        guard argument >= 24 else { return bytes.append(type | UInt8(argument)) }
        let (additional, width): (UInt8, Int) = switch argument {
        case ...0xFF: (24, 1)
        case ...0xFFFF: (25, 2)
        case ...0xFFFF_FFFF: (26, 4)
        default: (27, 8)
        }
        bytes.append(type | additional)
        for index in stride(from: width - 1, through: 0, by: -1) { bytes.append(UInt8(truncatingIfNeeded: argument >> UInt64(index * 8))) }
    }

    /// A non-negative integer (major type 0).
    public mutating func unsigned(_ value: UInt64) { header(major: 0, argument: value) }

    /// Any integer: major type 0 when ≥ 0, else major type 1.
    public mutating func signed(_ value: Int64) {
        if value >= 0 { header(major: 0, argument: UInt64(value)) } else { header(major: 1, argument: UInt64(-1 - value)) }
    }

    /// A definite byte string.
    public mutating func byteString<Bytes: Collection>(_ value: Bytes) where Bytes.Element == UInt8 {
        header(major: 2, argument: UInt64(value.count))
        bytes.append(contentsOf: value)
    }

    /// An id as a definite 32-byte string, written from its words.
    public mutating func byteString(_ id: Id) {
        header(major: 2, argument: UInt64(Id.byteCount))
        id.append(to: &bytes)
    }

    /// A definite text string.
    public mutating func textString(_ value: String) {
        header(major: 3, argument: UInt64(value.utf8.count))
        bytes.append(contentsOf: value.utf8)
    }

    /// The header of a definite array of `count` elements.
    public mutating func beginArray(count: Int) { header(major: 4, argument: UInt64(count)) }

    /// The header of a definite map of `count` pairs.
    public mutating func beginMap(count: Int) { header(major: 5, argument: UInt64(count)) }

    /// `0x9f`: an indefinite array, closed by `endIndefinite()`.
    public mutating func beginIndefiniteArray() { bytes.append(0x9F) }

    /// `0xbf`: an indefinite map, closed by `endIndefinite()`.
    public mutating func beginIndefiniteMap() { bytes.append(0xBF) }

    /// `0xff`: closes an indefinite container.
    public mutating func endIndefinite() { bytes.append(0xFF) }

    /// A whole item, every container definite.
    public mutating func item(_ value: CBOR) {
        switch value {
        case .unsigned(let n): header(major: 0, argument: n)
        case .negative(let n): header(major: 1, argument: n)
        case .bytes(let b): byteString(b)
        case .text(let t): textString(t)
        case .array(let elements):
            beginArray(count: elements.count)
            for element in elements { item(element) }
        case .map(let entries):
            beginMap(count: entries.count)
            for entry in entries {
                textString(entry.key)
                item(entry.value)
            }
        }
    }
}
