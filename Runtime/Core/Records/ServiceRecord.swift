/// A service offer as it travels on the DHT: a peer record whose peer id is the service type's
/// well-known key (`ServiceRecord.peerKey(for:)`), hosted and signed by the offering supernode
/// (`o`/`os`), with the endpoint in `e` and, in `ex`, a CBOR map: `t` service type, `p` plugin id,
/// `v` plugin version, `$` a price summary (optional), `m` the default plan's prices for programs
/// to compare (optional: a map of meter name to [free units, micro-units per unit, period
/// seconds], empty when the service is free) with `c` their currency, `w` 1 once withdrawn.
///
/// How discovery works: the peer id of type T is the Ed25519 public key whose seed is
/// SHA-256("carrier/service/v1/" + T). Anyone can compute it, so FIND_PEER for it returns every
/// provider's record; since anyone can also sign as that key, a record is trusted for its hosting
/// node's signature alone (`os`, checked by `PeerInfo.isValid`), which names the supernode that
/// offers the service. Each supernode uses a fingerprint derived from its id, so its record for a
/// type replaces its previous one instead of adding another.
public struct ServiceRecord: Sendable, Equatable {
    /// What one meter costs on the offering supernode's default plan, in the ledger's money unit.
    public struct MeterPrice: Sendable, Equatable {
        /// Units free in each period.
        public var freeUnits: UInt64
        /// Micro-units of the currency (1,000,000 = 1) per unit beyond the free ones.
        public var microPrice: UInt64
        public var periodSeconds: UInt64

        public init(freeUnits: UInt64, microPrice: UInt64, periodSeconds: UInt64) {
            self.freeUnits = freeUnits
            self.microPrice = microPrice
            self.periodSeconds = periodSeconds
        }
    }

    /// The prices of a record: by meter (empty: free), in `currency`.
    public struct Prices: Sendable, Equatable {
        public var currency: String
        public var meters: [String: MeterPrice]

        public init(currency: String, meters: [String: MeterPrice]) {
            self.currency = currency
            self.meters = meters
        }

        /// Most meters a record lists.
        public static let maxMeters = 16

        /// 1 to 16 of [A-Za-z0-9_-]: what a currency's name may be, so that it prints safely.
        public static func isValidCurrency(_ name: String) -> Bool {
            (1...16).contains(name.utf8.count) && name.utf8.allSatisfy { byte in
                (0x30...0x39).contains(byte) || (0x41...0x5a).contains(byte) || (0x61...0x7a).contains(byte) || byte == 0x5f || byte == 0x2d
            }
        }
    }

    public var type: String
    public var pluginId: String
    public var version: String
    public var priceSummary: String?
    /// The default plan's prices; nil when the record does not say (an older supernode).
    public var prices: Prices?
    public var withdrawn: Bool
    /// The hosting supernode and where it serves.
    public var node: Id
    public var endpoint: String
    public var sequenceNumber: Int32

    /// The well-known key pair of a service type (its seed is public by design).
    public static func peerKey(for type: String) -> KeyPair {
        // A SHA-256 digest is always a valid 32-byte seed.
        try! KeyPair(seed: Sodium.sha256(Array("carrier/service/v1/\(type)".utf8)))
    }

    /// The fingerprint a supernode uses for all its service records.
    public static func fingerprint(of node: Id) -> Int64 {
        node.bytes.prefix(8).reduce(Int64(0)) { $0 << 8 | Int64($1) }
    }

    /// The signed peer record announcing this offer from `host`.
    public func peerInfo(host: KeyPair) -> PeerInfo {
        var writer = CBORWriter()
        let entries: [(String, CBOR)] = [("t", .text(type)), ("p", .text(pluginId)), ("v", .text(version))]
            + (priceSummary.map { [("$", CBOR.text($0))] } ?? []) + (prices.map(Self.fields) ?? []) + (withdrawn ? [("w", CBOR.unsigned(1))] : [])
        writer.beginMap(count: entries.count)
        for (key, value) in entries {
            writer.textString(key)
            writer.item(value)
        }
        return PeerInfo.create(owner: Self.peerKey(for: type), node: host, fingerprint: Self.fingerprint(of: host.publicKey),
                               sequenceNumber: sequenceNumber, endpoint: endpoint, extra: writer.bytes)
    }

    /// Reads an offer of `type` from a peer record; nil unless it is valid, hosted by a node, under
    /// the type's key, and carries a well-formed `ex` naming the same type.
    public init?(_ peer: PeerInfo, type: String) {
        guard peer.isValid, let node = peer.nodeId, peer.peerId == Self.peerKey(for: type).publicKey,
              let extra = peer.extra, case .map(let entries)? = try? CBORDecoder.decode(extra) else { return nil }
        var fields: [String: CBOR] = [:]
        for entry in entries { fields[entry.key] = entry.value }
        guard case .text(let named)? = fields["t"], named == type, case .text(let plugin)? = fields["p"],
              case .text(let version)? = fields["v"] else { return nil }
        var summary: String?
        switch fields["$"] {
        case nil: break
        case .text(let text)?: summary = text
        default: return nil
        }
        var prices: Prices?
        if fields["m"] != nil || fields["c"] != nil {
            guard let read = Self.prices(fields["m"], currency: fields["c"]) else { return nil }
            prices = read
        }
        self.init(type: type, pluginId: plugin, version: version, priceSummary: summary, prices: prices, withdrawn: fields["w"] == .unsigned(1),
                  node: node, endpoint: peer.endpoint, sequenceNumber: peer.sequenceNumber)
    }

    /// `m` and `c` of `prices`.
    private static func fields(_ prices: Prices) -> [(String, CBOR)] {
        let meters = prices.meters.sorted { $0.key < $1.key }.map { meter, price in
            CBOR.Entry(meter, .array([.unsigned(price.freeUnits), .unsigned(price.microPrice), .unsigned(price.periodSeconds)]))
        }
        return [("m", .map(meters)), ("c", .text(prices.currency))]
    }

    /// The prices in `m` and `c`; nil unless both are there and well formed (at most
    /// `Prices.maxMeters` meters, each three unsigned integers, a period above 0; a currency
    /// `Prices.isValidCurrency` accepts).
    private static func prices(_ meters: CBOR?, currency: CBOR?) -> Prices? {
        guard case .map(let entries)? = meters, entries.count <= Prices.maxMeters, case .text(let currency)? = currency,
              Prices.isValidCurrency(currency) else { return nil }
        var read: [String: MeterPrice] = [:]
        for entry in entries {
            guard case .array(let numbers) = entry.value, numbers.count == 3, case .unsigned(let free) = numbers[0],
                  case .unsigned(let price) = numbers[1], case .unsigned(let period) = numbers[2], period > 0,
                  read[entry.key] == nil else { return nil }
            read[entry.key] = MeterPrice(freeUnits: free, microPrice: price, periodSeconds: period)
        }
        return Prices(currency: currency, meters: read)
    }

    public init(type: String, pluginId: String, version: String, priceSummary: String?, prices: Prices? = nil, withdrawn: Bool, node: Id,
                endpoint: String, sequenceNumber: Int32) {
        self.type = type
        self.pluginId = pluginId
        self.version = version
        self.priceSummary = priceSummary
        self.prices = prices
        self.withdrawn = withdrawn
        self.node = node
        self.endpoint = endpoint
        self.sequenceNumber = sequenceNumber
    }
}
