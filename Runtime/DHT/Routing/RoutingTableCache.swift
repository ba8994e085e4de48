import CarrierCore
import Foundation

/// The routing table saved across restarts, in the reference's local format (BOSON-WIRE.md §7):
/// `dht4.cache` / `dht6.cache`, a CBOR map `{nodeId, timestamp, entries: [{id, addr, port, created,
/// lastSeen, failedRequests, reachable}]}`. Only entries are kept (candidates are cheap to
/// relearn). A cache older than 24 hours, of another node, or unreadable is ignored: the node then
/// bootstraps as new. Times are stored as wall-clock ms and mapped onto the node's clock on load.
public enum RoutingTableCache {
    /// Caches older than this are ignored.
    public static let maxAge: Int64 = 24 * 60 * 60_000

    /// Writes `table`'s entries to `path` (atomically: a crash leaves the old file or the new one).
    public static func save(_ table: RoutingTable, to path: String, now: Int64, wallClock: Int64) throws {
        let toWall = { (time: Int64) in CBOR.unsigned(UInt64(max(0, wallClock - (now - time)))) }
        let entries = table.entries.map { entry in
            CBOR.map([
                .init("id", .bytes(entry.id.bytes)), .init("addr", .bytes(entry.node.address.bytes)),
                .init("port", .unsigned(UInt64(entry.node.port))), .init("created", toWall(entry.created)),
                .init("lastSeen", toWall(entry.lastSeen)), .init("failedRequests", .unsigned(UInt64(entry.failedRequests))),
                .init("reachable", .unsigned(entry.reachable ? 1 : 0)),
            ])
        }
        var writer = CBORWriter(capacity: 64 * entries.count + 64)
        writer.item(.map([.init("nodeId", .bytes(table.localId.bytes)), .init("timestamp", .unsigned(UInt64(wallClock))),
                          .init("entries", .array(entries))]))
        try Data(writer.bytes).write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    /// The entries saved at `path` for `localId`, with times on the node's clock; empty when there is
    /// no usable cache.
    public static func load(from path: String, localId: Id, now: Int64, wallClock: Int64) -> [RoutingEntry] {
        var limits = CBORLimits()
        limits.maxInputSize = 4 << 20
        limits.maxCollectionCount = 1 << 16
        guard let data = FileManager.default.contents(atPath: path),
              case .map(let root)? = try? CBORDecoder.decode(Array(data), limits: limits) else { return [] }
        func field(_ entries: [CBOR.Entry], _ key: String) -> CBOR? { entries.first { $0.key == key }?.value }
        guard case .bytes(let owner)? = field(root, "nodeId"), Id(bytes: owner) == localId,
              let saved = field(root, "timestamp")?.int64, wallClock - saved < maxAge,
              case .array(let items)? = field(root, "entries") else { return [] }
        let toNode = { (wall: Int64) in now - (wallClock - wall) }
        return items.compactMap { item in
            guard case .map(let fields) = item, case .bytes(let idBytes)? = field(fields, "id"), let id = Id(bytes: idBytes),
                  case .bytes(let addressBytes)? = field(fields, "addr"), let address = IPAddress(bytes: addressBytes),
                  let port = field(fields, "port")?.int64, (1...65535).contains(port) else { return nil }
            var entry = RoutingEntry(node: NodeInfo(id: id, address: address, port: UInt16(port)), now: now)
            entry.created = field(fields, "created")?.int64.map(toNode) ?? now
            entry.lastSeen = field(fields, "lastSeen")?.int64.map(toNode) ?? now
            entry.failedRequests = Int(field(fields, "failedRequests")?.int64 ?? 0)
            entry.reachable = field(fields, "reachable")?.int64 == 1
            return entry
        }
    }
}
