import CarrierCore
import CarrierShadow
import Foundation

/// Which public port belongs to which client's mapping, kept in SQLite (`shadow.sqlite` in the
/// plugin's storage directory) so that a client that comes back, after a reconnect, a network
/// change or a supernode restart, gets the same public endpoint. A port stays its client's for
/// `reserveSeconds` after its last use, then goes to whoever needs one.
/// Not thread-safe: `ShadowRelay` keeps it under a lock of its own, and writes on its host-call
/// threads (a commit waits for the disk).
final class PortAssignments {
    private let database: SQLiteDatabase
    let range: ClosedRange<UInt16>
    let reserveSeconds: Int64

    private static let schema = SQLiteSchema(
        name: "shadow port assignments", version: 1,
        layout: """
            CREATE TABLE assignment (
                client BLOB NOT NULL, name TEXT NOT NULL, protocol TEXT NOT NULL, port INTEGER NOT NULL,
                last_used INTEGER NOT NULL, PRIMARY KEY (client, name, protocol));
            CREATE UNIQUE INDEX assignment_port ON assignment (protocol, port);
            """,
        unversioned: "", migrations: [:])

    init(path: String, range: ClosedRange<UInt16>, reserveSeconds: Int64) throws(StorageError) {
        database = try SQLiteDatabase(path: path)
        try Self.schema.open(database)
        self.range = range
        self.reserveSeconds = reserveSeconds
    }

    /// The port of `client`'s mapping: the one it had, else a free one of the range (one whose
    /// reservation ran out is taken back, unless its client is among `connected`: a client
    /// connected for longer than the reservation still uses its ports). Nil when the range is full.
    func port(for client: Id, _ request: MappingRequest, connected: Set<Id> = [],
              now: Int64 = Int64(Date().timeIntervalSince1970)) throws(StorageError) -> UInt16? {
        try database.transaction { () throws(StorageError) -> UInt16? in
            let key: [SQLiteValue] = [.blob(client.bytes), .text(request.name), .text(request.transport.rawValue)]
            if let row = try database.query("SELECT port FROM assignment WHERE client = ? AND name = ? AND protocol = ?", key).first {
                let port = try row.integer(0)
                try database.query("UPDATE assignment SET last_used = ? WHERE client = ? AND name = ? AND protocol = ?", [.integer(now)] + key)
                if range.contains(UInt16(clamping: port)) { return UInt16(port) }
                // The operator narrowed the range: this one is no longer offered.
                try database.query("DELETE FROM assignment WHERE client = ? AND name = ? AND protocol = ?", key)
            }
            for row in try database.query("SELECT client, name FROM assignment WHERE protocol = ? AND last_used < ?",
                                          [.text(request.transport.rawValue), .integer(now - reserveSeconds)]) {
                let owner = try row.blob(0)
                guard let id = Id(bytes: owner), !connected.contains(id) else { continue }
                try database.query("DELETE FROM assignment WHERE client = ? AND name = ? AND protocol = ?",
                                   [.blob(owner), .text(try row.text(1)), .text(request.transport.rawValue)])
            }
            var taken = Set<UInt16>()
            for row in try database.query("SELECT port FROM assignment WHERE protocol = ?", [.text(request.transport.rawValue)]) {
                taken.insert(UInt16(clamping: try row.integer(0)))
            }
            guard let free = range.first(where: { !taken.contains($0) }) else { return nil }
            try database.query("INSERT INTO assignment (client, name, protocol, port, last_used) VALUES (?, ?, ?, ?, ?)",
                               key + [.integer(Int64(free)), .integer(now)])
            return free
        }
    }

    /// The share of the range, per mille, that a new client could not get: ports held by a client
    /// in `connected` or still reserved, counted per protocol, the fuller one's.
    func load(connected: Set<Id>, now: Int64 = Int64(Date().timeIntervalSince1970)) throws(StorageError) -> Int {
        var held: [String: Int] = [:]
        for row in try database.query("SELECT client, protocol, last_used FROM assignment WHERE port BETWEEN ? AND ?",
                                      [.integer(Int64(range.lowerBound)), .integer(Int64(range.upperBound))]) {
            let lastUsed = try row.integer(2), owner = Id(bytes: try row.blob(0))
            guard lastUsed >= now - reserveSeconds || owner.map(connected.contains) == true else { continue }
            held[try row.text(1), default: 0] += 1
        }
        return min(1000, (held.values.max() ?? 0) * 1000 / range.count)
    }

    /// Marks `client`'s mappings as used now (they are held while it stays connected).
    func touch(_ client: Id, now: Int64 = Int64(Date().timeIntervalSince1970)) throws(StorageError) {
        try database.query("UPDATE assignment SET last_used = ? WHERE client = ?", [.integer(now), .blob(client.bytes)])
    }
}
