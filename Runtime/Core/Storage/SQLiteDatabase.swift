import CSQLite

/// A thin, strict wrapper over one SQLite connection: WAL journal, `synchronous = FULL` (a
/// committed write is on disk before the call returns), prepared statements with typed binds.
/// Not thread-safe; its owner serialises access.
///
/// The statements `query` prepares are kept, by their SQL text, and reused (reset and rebound)
/// when the same text comes again, so a write repeated thousands of times a second is parsed
/// once; at most `maxCachedStatements` are kept, and text beyond that is prepared each time.
public final class SQLiteDatabase {
    /// Most prepared statements kept for reuse.
    public static let maxCachedStatements = 64

    private let handle: OpaquePointer
    public let path: String
    private var statements: [String: OpaquePointer] = [:]

    public init(path: String) throws(StorageError) {
        var handle: OpaquePointer?
        let status = sqlite3_open_v2(path, &handle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nil)
        guard status == SQLITE_OK, let handle else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close(handle)
            throw StorageError("cannot open \(path): \(message)")
        }
        self.handle = handle
        self.path = path
        sqlite3_busy_timeout(handle, 5000)
        try execute("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")
    }

    deinit {
        for statement in statements.values { sqlite3_finalize(statement) }
        sqlite3_close_v2(handle)
    }

    /// Runs one or more statements that return no rows.
    public func execute(_ sql: String) throws(StorageError) {
        var error: UnsafeMutablePointer<CChar>?
        guard sqlite3_exec(handle, sql, nil, nil, &error) == SQLITE_OK else {
            let message = error.map { String(cString: $0) } ?? lastError
            sqlite3_free(error)
            throw StorageError("\(path): \(message)")
        }
    }

    /// Runs `body` in one transaction: committed if it returns, rolled back if it throws.
    public func transaction<T>(_ body: () throws(StorageError) -> T) throws(StorageError) -> T {
        try query("BEGIN IMMEDIATE")
        do {
            let result = try body()
            try query("COMMIT")
            return result
        } catch {
            _ = try? query("ROLLBACK")
            throw error
        }
    }

    /// Prepares `sql` (or reuses its kept statement), binds `values` to its `?` parameters in
    /// order, and returns the rows it yields. `sql` is one statement.
    @discardableResult
    public func query(_ sql: String, _ values: [SQLiteValue] = []) throws(StorageError) -> [SQLiteRow] {
        let (statement, kept) = try prepared(sql)
        defer {
            sqlite3_reset(statement)
            sqlite3_clear_bindings(statement)
            if !kept { sqlite3_finalize(statement) }
        }
        for (offset, value) in values.enumerated() {
            let index = Int32(offset + 1)
            let status: Int32 = switch value {
            case .integer(let number): sqlite3_bind_int64(statement, index, number)
            case .text(let text): sqlite3_bind_text(statement, index, text, -1, SQLiteDatabase.transient)
            case .blob(let bytes): bytes.withUnsafeBytes { sqlite3_bind_blob(statement, index, $0.baseAddress ?? UnsafeRawPointer(bitPattern: 1), Int32($0.count), SQLiteDatabase.transient) }
            case .null: sqlite3_bind_null(statement, index)
            }
            guard status == SQLITE_OK else { throw StorageError("\(path): \(lastError) binding \(index) in \(sql)") }
        }
        let names = (0..<sqlite3_column_count(statement)).map { String(cString: sqlite3_column_name(statement, $0)) }
        var rows: [SQLiteRow] = []
        while true {
            switch sqlite3_step(statement) {
            case SQLITE_ROW: rows.append(SQLiteRow(statement: statement, names: names, sql: sql))
            case SQLITE_DONE: return rows
            default: throw StorageError("\(path): \(lastError) in \(sql)")
            }
        }
    }

    /// `sql`'s kept statement, or a new one, kept while there is room; whether it is kept.
    private func prepared(_ sql: String) throws(StorageError) -> (statement: OpaquePointer, kept: Bool) {
        if let kept = statements[sql] { return (kept, true) }
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(handle, sql, -1, &statement, nil) == SQLITE_OK, let statement else {
            throw StorageError("\(path): \(lastError) in \(sql)")
        }
        guard statements.count < Self.maxCachedStatements else { return (statement, false) }
        statements[sql] = statement
        return (statement, true)
    }

    /// Whether a transaction is open on this connection (SQLite is not in autocommit mode).
    public var isInTransaction: Bool { sqlite3_get_autocommit(handle) == 0 }

    private var lastError: String { String(cString: sqlite3_errmsg(handle)) }

    /// SQLITE_TRANSIENT: SQLite copies bound buffers before the call returns.
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
}

/// A value bound to a statement parameter.
public enum SQLiteValue: Sendable {
    case integer(Int64)
    case text(String)
    case blob([UInt8])
    case null

    public static func blob(_ bytes: [UInt8]?) -> SQLiteValue { bytes.map { .blob($0) } ?? .null }
}

/// A storage failure: the file, and what SQLite or the schema check said.
public struct StorageError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
