import CarrierCore

/// The OpenDHT values stored at one OpenDHT key, as the data of one Carrier DHT value (see
/// `OpenDHTKey` and docs/opendht-mapping.md): a CBOR array of `[id, expires, fields]` entries,
/// `expires` in Unix seconds and `fields` the value's other fields as compact JSON text.
///
/// A Carrier value carries at most `capacity` bytes, so a bucket keeps the values that fit:
/// expired ones go first, then those that expire soonest. One value that cannot fit even alone
/// (an RSA-signed OpenDHT value, whose key and signature alone take 1.3 KB) is refused.
struct OpenDHTBucket: Equatable, Sendable {
    static let capacity = Value.maxMutableDataSize

    /// One stored value and when it expires.
    struct Entry: Equatable, Sendable {
        var value: OpenDHTValue
        var expires: Int64
    }

    /// Why a value cannot be stored.
    struct TooLarge: Error, CustomStringConvertible {
        let size: Int
        var description: String {
            "the value takes \(size) bytes stored; a Carrier DHT value holds \(OpenDHTBucket.capacity) "
                + "(signed and encrypted OpenDHT values do not fit: use the native /v1 API)"
        }
    }

    private(set) var entries: [Entry] = []

    init() {}

    /// Reads a bucket from a Carrier value's data; malformed data (not written by a proxy) throws.
    init(data: [UInt8]) throws(OpenDHTValueError) {
        var limits = CBORLimits()
        limits.maxDepth = 3
        limits.maxStringLength = Self.capacity
        limits.maxInputSize = Self.capacity
        guard case .array(let items)? = try? CBORDecoder.decode(data, limits: limits) else {
            throw OpenDHTValueError(description: "the stored bucket is not a CBOR array")
        }
        for item in items {
            guard case .array(let parts) = item, parts.count == 3, case .unsigned(let id) = parts[0], case .unsigned(let expires) = parts[1],
                  expires <= UInt64(Int64.max), case .text(let text) = parts[2],
                  case .object(let fields)? = try? JSONParser.parse(text) else {
                throw OpenDHTValueError(description: "a stored bucket entry is not [id, expires, fields]")
            }
            // Anyone can write a key's bucket: what is read back is checked as a POST would be.
            guard !entries.contains(where: { $0.value.id == id }) else { throw OpenDHTValueError(description: "value id \(id) is stored twice") }
            entries.append(Entry(value: OpenDHTValue(id: id, fields: try OpenDHTValue.checked(fields)), expires: Int64(expires)))
        }
    }

    /// The bucket as a Carrier value's data.
    var data: [UInt8] {
        var writer = CBORWriter()
        writer.item(.array(entries.map(Self.item)))
        return writer.bytes
    }

    /// The values not expired at `now`.
    func live(at now: Int64) -> [Entry] { entries.filter { $0.expires > now } }

    /// Adds (or refreshes, for the same id) `value` until `expires`; drops what expired by `now`,
    /// then the soonest-expiring others until the bucket fits.
    mutating func insert(_ value: OpenDHTValue, expires: Int64, now: Int64) throws(TooLarge) {
        let entry = Entry(value: value, expires: expires)
        let alone = Self.encodedSize([entry])
        guard alone <= Self.capacity else { throw TooLarge(size: alone) }
        // Entries are kept oldest first; the ones to drop are those expiring soonest, and among
        // equal expiries the oldest.
        var kept = entries.enumerated().filter { $0.element.expires > now && $0.element.value.id != value.id }
            .sorted { ($0.element.expires, $0.offset) > ($1.element.expires, $1.offset) }.map(\.element)
        while Self.encodedSize(kept + [entry]) > Self.capacity { kept.removeLast() }
        entries = kept.reversed() + [entry]
    }

    private static func item(_ entry: Entry) -> CBOR {
        .array([.unsigned(entry.value.id), .unsigned(UInt64(max(0, entry.expires))), .text(JSONValue.object(entry.value.fields).text)])
    }

    private static func encodedSize(_ entries: [Entry]) -> Int {
        var writer = CBORWriter()
        writer.item(.array(entries.map(item)))
        return writer.bytes.count
    }
}

/// An OpenDHT key (a 20-byte InfoHash, 40 hex digits) and the Carrier DHT value that holds its
/// values: a signed mutable value under the key pair whose seed is
/// SHA-256("carrier/opendht/v1/" ‖ hash). Every proxy derives the same pair, so a value put
/// through one supernode's proxy is found through any other's. Anyone can derive it, which
/// matches OpenDHT, where anyone may put at any key.
struct OpenDHTKey: Hashable, Sendable {
    let hash: [UInt8]
    let keyPair: KeyPair

    init?(hex: String) {
        guard hex.utf8.count == 40, let hash = Hex.decode(hex.lowercased()) else { return nil }
        self.hash = hash
        // A SHA-256 digest is always a valid 32-byte seed.
        keyPair = try! KeyPair(seed: Sodium.sha256(Array("carrier/opendht/v1/".utf8), hash))
    }

    /// The id of the Carrier value holding the key's bucket.
    var valueId: Id { keyPair.publicKey }

    static func == (lhs: OpenDHTKey, rhs: OpenDHTKey) -> Bool { lhs.hash == rhs.hash }
    func hash(into hasher: inout Hasher) { hasher.combine(hash) }
}
