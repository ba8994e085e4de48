import CSQLite

/// The versioned layout of one kind of SQLite file, kept in `PRAGMA user_version`.
///
/// `open` brings a file to `version`: a new (empty) file gets `layout` at once; a file written
/// before versioning (`user_version` 0 with tables) must have exactly the `unversioned` layout, and
/// is then taken as version 1; each `migrations[n]` takes a file from version n to n + 1. After
/// migrating, the file must have exactly `layout`'s tables, columns, indexes and triggers. A file
/// from a newer version, or of any other layout, is refused with an error that says so: it is
/// never read as something it is not.
public struct SQLiteSchema: Sendable {
    /// What the files are, for errors ("billing ledger").
    public let name: String
    /// The version `layout` is.
    public let version: Int32
    /// The statements that create the current layout.
    public let layout: String
    /// The statements that created files before they carried a version (version 1).
    public let unversioned: String
    /// `migrations[n]`: the statements that take a file from version n to n + 1.
    public let migrations: [Int32: String]

    public init(name: String, version: Int32, layout: String, unversioned: String, migrations: [Int32: String]) {
        self.name = name
        self.version = version
        self.layout = layout
        self.unversioned = unversioned
        self.migrations = migrations
    }

    /// Brings `database` to `version` in one transaction, or throws without changing it.
    public func open(_ database: SQLiteDatabase) throws(StorageError) {
        try database.transaction { () throws(StorageError) in
            var found = try Self.userVersion(database)
            guard found <= version else {
                throw StorageError("\(database.path): a \(name) of schema version \(found), newer than this Carrier's \(version); "
                                   + "refusing to open it (run the Carrier version that wrote it)")
            }
            let existing = try SQLiteLayout(of: database)
            if found == 0 {
                if existing.isEmpty {
                    try database.execute(layout)
                    try setUserVersion(database, version)
                    return
                }
                try existing.expect(try SQLiteLayout(statements: unversioned), in: database.path, what: "an unversioned \(name)")
                found = 1
            }
            while found < version {
                guard let migration = migrations[found] else {
                    throw StorageError("\(database.path): no migration of a \(name) from schema version \(found) to \(found + 1)")
                }
                try database.execute(migration)
                found += 1
            }
            try SQLiteLayout(of: database).expect(try SQLiteLayout(statements: layout), in: database.path,
                                                  what: "a \(name) of schema version \(version)")
            try setUserVersion(database, version)
        }
    }

    /// The `user_version` of `database`.
    public static func userVersion(_ database: SQLiteDatabase) throws(StorageError) -> Int32 {
        Int32(truncatingIfNeeded: try database.query("PRAGMA user_version").first?.integer(0) ?? 0)
    }

    private func setUserVersion(_ database: SQLiteDatabase, _ version: Int32) throws(StorageError) {
        try database.execute("PRAGMA user_version = \(version)")
    }
}

/// What a file's schema holds, in comparable lines: each table (and whether it is STRICT), each
/// column with its type, NOT NULL and primary-key position, each index and trigger by name and table.
struct SQLiteLayout: Equatable {
    let lines: Set<String>

    var isEmpty: Bool { lines.isEmpty }

    init(of database: SQLiteDatabase) throws(StorageError) {
        var lines: Set<String> = []
        for table in try database.query("SELECT name, strict FROM pragma_table_list WHERE schema = 'main' AND type = 'table' AND name NOT LIKE 'sqlite_%'") {
            let name = try table.text(0)
            lines.insert("table \(name)\(try table.integer(1) != 0 ? " STRICT" : "")")
            for column in try database.query("SELECT name, type, \"notnull\", pk FROM pragma_table_info(?)", [.text(name)]) {
                lines.insert("column \(name).\(try column.text(0)) \(try column.text(1)) notnull=\(try column.integer(2)) pk=\(try column.integer(3))")
            }
        }
        for entry in try database.query("SELECT type, name, tbl_name FROM sqlite_schema WHERE type IN ('index', 'trigger') AND name NOT LIKE 'sqlite_%'") {
            lines.insert("\(try entry.text(0)) \(try entry.text(1)) on \(try entry.text(2))")
        }
        self.lines = lines
    }

    /// The layout `statements` create, read off an in-memory database.
    init(statements: String) throws(StorageError) {
        let scratch = try SQLiteDatabase(path: ":memory:")
        try scratch.execute(statements)
        try self.init(of: scratch)
    }

    /// Throws unless this layout is `expected`, naming what is missing and what is extra.
    func expect(_ expected: SQLiteLayout, in path: String, what: String) throws(StorageError) {
        guard self != expected else { return }
        let missing = expected.lines.subtracting(lines).sorted(), extra = lines.subtracting(expected.lines).sorted()
        throw StorageError("\(path): not \(what), refusing to open it; missing: \(missing.isEmpty ? "nothing" : missing.joined(separator: ", ")); "
                           + "unexpected: \(extra.isEmpty ? "nothing" : extra.joined(separator: ", "))")
    }
}
