/// One key/value pair of a decoded map, CBOR or JSON, kept in wire order.
public struct MapEntry<Value: Hashable & Sendable>: Hashable, Sendable {
    /// The key (always text in Boson messages).
    public var key: String
    /// The value.
    public var value: Value

    public init(_ key: String, _ value: Value) {
        self.key = key
        self.value = value
    }
}

/// Detects duplicate keys while a map is read: a linear scan while the map is small (every Boson
/// map is, and hashing a handful of short keys costs more than comparing them: it was the largest
/// item in the decode profile), a hash set once it grows, so hostile maps stay linear in cost.
struct DuplicateKeyDetector {
    private static let linearLimit = 16
    private var keys: [String] = []
    private var set: Set<String> = []

    /// Records `key`; false if it was already present.
    mutating func insert(_ key: String) -> Bool {
        if keys.count < DuplicateKeyDetector.linearLimit {
            if keys.contains(key) { return false }
            keys.append(key)
            if keys.count == DuplicateKeyDetector.linearLimit { set = Set(keys) }
            return true
        }
        return set.insert(key).inserted
    }
}
