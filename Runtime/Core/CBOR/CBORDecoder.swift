/// A strict, bounded CBOR decoder (RFC 8949) for the Boson profile described in `CBOR`.
///
/// Accepts definite and indefinite arrays and maps and any integer width; refuses everything outside
/// the profile, anything beyond `CBORLimits`, truncated input and trailing bytes. It never traps on
/// any input.
public struct CBORDecoder {
    private let input: UnsafeRawBufferPointer
    private let limits: CBORLimits
    private var position = 0

    private init(input: UnsafeRawBufferPointer, limits: CBORLimits) {
        self.input = input
        self.limits = limits
    }

    /// Decodes exactly one data item that spans all of `bytes`.
    public static func decode(_ bytes: [UInt8], limits: CBORLimits = .standard) throws(CBORError) -> CBOR {
        try bytes.withUnsafeBytes { buffer in
            Result { () throws(CBORError) -> CBOR in try decode(buffer, limits: limits) }
        }.get()
    }

    /// Decodes exactly one data item that spans all of `buffer`.
    public static func decode(_ buffer: UnsafeRawBufferPointer, limits: CBORLimits = .standard) throws(CBORError) -> CBOR {
        guard !buffer.isEmpty else { throw CBORError(.empty, at: 0) }
        guard buffer.count <= limits.maxInputSize else {
            throw CBORError(.inputTooLarge(size: buffer.count, limit: limits.maxInputSize), at: 0)
        }
        var decoder = CBORDecoder(input: buffer, limits: limits)
        let item = try decoder.readItem(depth: 0)
        guard decoder.position == buffer.count else {
            throw CBORError(.trailingBytes(count: buffer.count - decoder.position), at: decoder.position)
        }
        return item
    }

    private mutating func readByte() throws(CBORError) -> UInt8 {
        guard position < input.count else { throw CBORError(.truncated(needed: 1), at: position) }
        defer { position += 1 }
        return input[position]
    }

    /// The argument of a header whose additional information is `info`; nil means indefinite (31).
    private mutating func readArgument(_ info: UInt8, headerAt start: Int) throws(CBORError) -> UInt64? {
        switch info {
        case 0...23: return UInt64(info)
        case 24...27:
            let width = 1 << Int(info - 24)
            guard input.count - position >= width else {
                throw CBORError(.truncated(needed: width - (input.count - position)), at: position)
            }
            var value: UInt64 = 0
            for _ in 0..<width {
                value = value << 8 | UInt64(input[position])
                position += 1
            }
            return value
        case 31: return nil
        default: throw CBORError(.reservedAdditionalInfo(info), at: start)
        }
    }

    private mutating func readItem(depth: Int) throws(CBORError) -> CBOR {
        let start = position
        let initial = try readByte()
        let major = initial >> 5
        let info = initial & 0x1F
        if initial == 0xFF { throw CBORError(.unexpectedBreak, at: start) }
        if major == 6 { throw CBORError(.unsupportedTag, at: start) }
        if major == 7 { throw CBORError(.unsupportedSimpleValue(info), at: start) }
        let argument = try readArgument(info, headerAt: start)
        switch major {
        case 0, 1:
            guard let value = argument else { throw CBORError(.reservedAdditionalInfo(info), at: start) }
            return major == 0 ? .unsigned(value) : .negative(value)
        case 2, 3:
            guard let length = argument else { throw CBORError(.indefiniteString, at: start) }
            let bytes = try readString(length: length, at: start)
            if major == 2 { return .bytes(bytes) }
            guard let text = String(validating: bytes, as: UTF8.self) else { throw CBORError(.invalidUTF8, at: start) }
            return .text(text)
        case 4:
            guard depth < limits.maxDepth else { throw CBORError(.tooDeep(limit: limits.maxDepth), at: start) }
            return .array(try readArray(count: argument, depth: depth + 1, at: start))
        default:
            guard depth < limits.maxDepth else { throw CBORError(.tooDeep(limit: limits.maxDepth), at: start) }
            return .map(try readMap(count: argument, depth: depth + 1, at: start))
        }
    }

    private mutating func readString(length: UInt64, at start: Int) throws(CBORError) -> [UInt8] {
        guard length <= UInt64(limits.maxStringLength) else {
            throw CBORError(.stringTooLong(length: length, limit: limits.maxStringLength), at: start)
        }
        let count = Int(length)
        guard input.count - position >= count else {
            throw CBORError(.truncated(needed: count - (input.count - position)), at: position)
        }
        defer { position += count }
        return Array(input[position..<(position + count)])
    }

    private func checkCount(_ count: UInt64?, at start: Int) throws(CBORError) {
        if let count, count > UInt64(limits.maxCollectionCount) {
            throw CBORError(.collectionTooLarge(count: count, limit: limits.maxCollectionCount), at: start)
        }
    }

    /// Whether the next byte is a break; consumes it if so. Only called inside indefinite containers.
    private mutating func atBreak() throws(CBORError) -> Bool {
        guard position < input.count else { throw CBORError(.truncated(needed: 1), at: position) }
        if input[position] == 0xFF {
            position += 1
            return true
        }
        return false
    }

    private mutating func readArray(count: UInt64?, depth: Int, at start: Int) throws(CBORError) -> [CBOR] {
        try checkCount(count, at: start)
        var elements: [CBOR] = []
        if let count {
            elements.reserveCapacity(Int(count))
            for _ in 0..<count { elements.append(try readItem(depth: depth)) }
        } else {
            while try !atBreak() {
                try checkCount(UInt64(elements.count + 1), at: start)
                elements.append(try readItem(depth: depth))
            }
        }
        return elements
    }

    private mutating func readMap(count: UInt64?, depth: Int, at start: Int) throws(CBORError) -> [CBOR.Entry] {
        try checkCount(count, at: start)
        var entries: [CBOR.Entry] = []
        var keys = DuplicateKeyDetector()
        func readEntry(_ decoder: inout CBORDecoder) throws(CBORError) {
            let keyStart = decoder.position
            let keyItem = try decoder.readItem(depth: depth)
            guard case .text(let key) = keyItem else { throw CBORError(.nonTextMapKey(keyItem.typeName), at: keyStart) }
            guard key.utf8.count <= decoder.limits.maxKeyLength else {
                throw CBORError(.keyTooLong(length: key.utf8.count, limit: decoder.limits.maxKeyLength), at: keyStart)
            }
            guard keys.insert(key) else { throw CBORError(.duplicateKey(key), at: keyStart) }
            entries.append(CBOR.Entry(key, try decoder.readItem(depth: depth)))
        }
        if let count {
            entries.reserveCapacity(Int(count))
            for _ in 0..<count { try readEntry(&self) }
        } else {
            while try !atBreak() {
                try checkCount(UInt64(entries.count + 1), at: start)
                try readEntry(&self)
            }
        }
        return entries
    }
}
