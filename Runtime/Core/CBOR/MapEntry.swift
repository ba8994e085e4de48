/// One key/value pair of a decoded map, CBOR or JSON, kept in wire order.
public struct MapEntry<Value: Hashable & Sendable>: Hashable, Sendable {
    public var key: String
    public var value: Value

    public init(_ key: String, _ value: Value) {
        self.key = key
        self.value = value
    }
}

/// Detects duplicate keys while a map is read: a linear scan while the map is small (every Boson
/// map is), a hash set once it grows, so hostile maps with many keys stay linear in cost.
struct DuplicateKeyDetector {
    private static let linearLimit = 16
    private var keys: [String] = []
    private var set: Set<String>?

    /// Records `key`; false if it was already present.
    mutating func insert(_ key: String) -> Bool {
        if set != nil { return set!.insert(key).inserted }
        if keys.contains(key) { return false }
        keys.append(key)
        if keys.count > DuplicateKeyDetector.linearLimit {
            set = Set(keys)
            keys = []
        }
        return true
    }
}
