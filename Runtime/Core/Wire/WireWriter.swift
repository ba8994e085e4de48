/// The one vocabulary message encoders write in; a CBOR and a JSON implementation turn it into the
/// two wire forms, so each message's field order and omission rules are written once.
protocol WireWriter {
    mutating func beginMap()
    mutating func endMap()
    mutating func key(_ key: String)
    mutating func unsigned(_ value: UInt64)
    mutating func signed(_ value: Int64)
    mutating func id(_ id: Id)
    mutating func binary(_ bytes: [UInt8])
    mutating func text(_ text: String)
    mutating func ipAddress(_ address: IPAddress)
    /// A list of `count` elements (definite array in CBOR).
    mutating func beginList(count: Int)
    mutating func endList()
    /// A NodeInfo triple (indefinite array in CBOR, as the reference writes it).
    mutating func beginNodeInfo()
    mutating func endNodeInfo()
}

/// Writes the CBOR form exactly as the reference emits it (BOSON-WIRE.md §3).
struct CBORWireWriter: WireWriter {
    var output = CBORWriter(capacity: 512)

    mutating func beginMap() { output.beginIndefiniteMap() }
    mutating func endMap() { output.endIndefinite() }
    mutating func key(_ key: String) { output.textString(key) }
    mutating func unsigned(_ value: UInt64) { output.unsigned(value) }
    mutating func signed(_ value: Int64) { output.signed(value) }
    mutating func id(_ id: Id) { output.byteString(id) }
    mutating func binary(_ bytes: [UInt8]) { output.byteString(bytes) }
    mutating func text(_ text: String) { output.textString(text) }
    mutating func ipAddress(_ address: IPAddress) { address.withUnsafeBytes { output.byteString($0) } }
    mutating func beginList(count: Int) { output.beginArray(count: count) }
    mutating func endList() {}
    mutating func beginNodeInfo() { output.beginIndefiniteArray() }
    mutating func endNodeInfo() { output.endIndefinite() }
}

/// Writes the compact JSON form: no whitespace, ids in Base58, binary in unpadded base64url,
/// addresses as text.
struct JSONWireWriter: WireWriter {
    var output: [UInt8] = []
    /// One entry per open container: whether the next element needs a comma before it.
    private var needsComma: [Bool] = [false]

    private mutating func separate() {
        if needsComma[needsComma.count - 1] { output.append(UInt8(ascii: ",")) }
        needsComma[needsComma.count - 1] = true
    }

    private mutating func open(_ character: Character) {
        separate()
        output.append(contentsOf: String(character).utf8)
        needsComma.append(false)
    }

    private mutating func close(_ character: Character) {
        needsComma.removeLast()
        output.append(contentsOf: String(character).utf8)
    }

    private mutating func scalar(_ text: String) {
        separate()
        output.append(contentsOf: text.utf8)
    }

    mutating func beginMap() { open("{") }
    mutating func endMap() { close("}") }
    mutating func key(_ key: String) {
        separate()
        JSONText.appendQuoted(key, to: &output)
        output.append(UInt8(ascii: ":"))
        needsComma[needsComma.count - 1] = false
    }
    mutating func unsigned(_ value: UInt64) { scalar(String(value)) }
    mutating func signed(_ value: Int64) { scalar(String(value)) }
    mutating func id(_ id: Id) { text(id.base58) }
    mutating func binary(_ bytes: [UInt8]) { text(Base64URL.encode(bytes)) }
    mutating func text(_ text: String) {
        separate()
        JSONText.appendQuoted(text, to: &output)
    }
    mutating func ipAddress(_ address: IPAddress) { text(address.description) }
    mutating func beginList(count: Int) { open("[") }
    mutating func endList() { close("]") }
    mutating func beginNodeInfo() { open("[") }
    mutating func endNodeInfo() { close("]") }
}

/// Key-and-value shorthands, so each message's field list reads as a list.
extension WireWriter {
    mutating func field(_ name: String, unsigned value: UInt64) {
        key(name)
        unsigned(value)
    }

    mutating func field(_ name: String, signed value: Int64) {
        key(name)
        signed(value)
    }

    /// Writes the field only when `value` is not zero, as the reference omits zero optionals.
    mutating func field(_ name: String, nonZero value: Int64) {
        if value != 0 { field(name, signed: value) }
    }

    mutating func field(_ name: String, id value: Id) {
        key(name)
        id(value)
    }

    mutating func field(_ name: String, binary value: [UInt8]) {
        key(name)
        binary(value)
    }

    mutating func field(_ name: String, text value: String) {
        key(name)
        text(value)
    }

    /// A nested map under `name`, its fields written by `body`.
    mutating func map(_ name: String, _ body: (inout Self) -> Void) {
        key(name)
        beginMap()
        body(&self)
        endMap()
    }
}
