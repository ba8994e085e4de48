import CSQLite

/// One result row, its columns copied out of SQLite. Reads are typed: a column read as INTEGER,
/// TEXT or BLOB that holds anything else (NULL included) throws a `StorageError` naming the
/// column, the type found and the query, instead of passing for 0 or "". A column that may be
/// NULL is read with an `optional…` accessor (nil for NULL, and still an error for another type).
public struct SQLiteRow: Sendable {
    /// A column as SQLite typed it (REAL is never written here, but a damaged file may hold it).
    private enum Column: Sendable { case integer(Int64), text(String), blob([UInt8]), real, null }

    private let columns: [Column]
    private let names: [String]
    private let sql: String

    init(statement: OpaquePointer, names: [String], sql: String) {
        self.names = names
        self.sql = sql
        columns = (0..<sqlite3_column_count(statement)).map { index in
            switch sqlite3_column_type(statement, index) {
            case SQLITE_INTEGER: .integer(sqlite3_column_int64(statement, index))
            case SQLITE_TEXT: .text(String(cString: sqlite3_column_text(statement, index)))
            case SQLITE_BLOB:
                .blob(Array(UnsafeRawBufferPointer(start: sqlite3_column_blob(statement, index), count: Int(sqlite3_column_bytes(statement, index)))))
            case SQLITE_NULL: .null
            default: .real
            }
        }
    }

    public func integer(_ index: Int) throws(StorageError) -> Int64 {
        guard let number = try optionalInteger(index) else { throw mismatch(index, expected: "INTEGER") }
        return number
    }

    public func optionalInteger(_ index: Int) throws(StorageError) -> Int64? {
        switch try column(index) {
        case .integer(let number): return number
        case .null: return nil
        default: throw mismatch(index, expected: "INTEGER")
        }
    }

    public func text(_ index: Int) throws(StorageError) -> String {
        guard let text = try optionalText(index) else { throw mismatch(index, expected: "TEXT") }
        return text
    }

    public func optionalText(_ index: Int) throws(StorageError) -> String? {
        switch try column(index) {
        case .text(let text): return text
        case .null: return nil
        default: throw mismatch(index, expected: "TEXT")
        }
    }

    public func blob(_ index: Int) throws(StorageError) -> [UInt8] {
        guard let bytes = try optionalBlob(index) else { throw mismatch(index, expected: "BLOB") }
        return bytes
    }

    public func optionalBlob(_ index: Int) throws(StorageError) -> [UInt8]? {
        switch try column(index) {
        case .blob(let bytes): return bytes
        case .null: return nil
        default: throw mismatch(index, expected: "BLOB")
        }
    }

    private func column(_ index: Int) throws(StorageError) -> Column {
        guard columns.indices.contains(index) else {
            throw StorageError("column \(index) read from a row of \(columns.count) in \(sql)")
        }
        return columns[index]
    }

    private func mismatch(_ index: Int, expected: String) -> StorageError {
        let found = switch columns[index] {
        case .integer: "INTEGER"
        case .text: "TEXT"
        case .blob: "BLOB"
        case .null: "NULL"
        case .real: "REAL"
        }
        return StorageError("column \(index) (\(names[index])) holds \(found) where \(expected) is expected, in \(sql)")
    }
}
