import CarrierCore
import Foundation
import Testing

/// Typed reads of SQLite rows: a column of another type, NULL included, is an error that names
/// the column, what it holds and the query, never a 0 or an empty string.
struct SQLiteRowTests {
    let database: SQLiteDatabase

    init() throws {
        database = try SQLiteDatabase(path: NSTemporaryDirectory() + "carrier-rows-\(UUID().uuidString).sqlite")
        try database.execute("CREATE TABLE cells (integer_cell, text_cell, blob_cell, null_cell, real_cell)")
        try database.query("INSERT INTO cells VALUES (?, ?, ?, ?, 2.5)", [.integer(-7), .text("seven"), .blob([7, 0, 7]), .null])
    }

    private func row() throws -> SQLiteRow {
        try database.query("SELECT integer_cell, text_cell, blob_cell, null_cell, real_cell FROM cells")[0]
    }

    private func message(_ read: (SQLiteRow) throws(StorageError) -> Void) throws -> String? {
        let row = try row()
        do throws(StorageError) { try read(row) } catch { return error.description }
        return nil
    }

    @Test func eachTypeReadsAsItself() throws {
        let row = try row()
        #expect(try row.integer(0) == -7)
        #expect(try row.text(1) == "seven")
        #expect(try row.blob(2) == [7, 0, 7])
        #expect(try row.optionalInteger(3) == nil)
        #expect(try row.optionalText(3) == nil)
        #expect(try row.optionalBlob(3) == nil)
        #expect(try row.optionalInteger(0) == -7)
    }

    @Test func nullWhereAValueIsRequiredIsAnError() throws {
        #expect(try message { row throws(StorageError) in _ = try row.integer(3) }
                == "column 3 (null_cell) holds NULL where INTEGER is expected, in SELECT integer_cell, text_cell, blob_cell, null_cell, real_cell FROM cells")
        #expect(try message { row throws(StorageError) in _ = try row.text(3) }?.hasPrefix("column 3 (null_cell) holds NULL where TEXT is expected") == true)
        #expect(try message { row throws(StorageError) in _ = try row.blob(3) }?.hasPrefix("column 3 (null_cell) holds NULL where BLOB is expected") == true)
    }

    @Test func anotherTypeIsAnErrorEvenWhereNullIsAllowed() throws {
        #expect(try message { row throws(StorageError) in _ = try row.integer(1) }?.hasPrefix("column 1 (text_cell) holds TEXT where INTEGER is expected") == true)
        #expect(try message { row throws(StorageError) in _ = try row.optionalInteger(4) }?.hasPrefix("column 4 (real_cell) holds REAL where INTEGER is expected") == true)
        #expect(try message { row throws(StorageError) in _ = try row.optionalText(0) }?.hasPrefix("column 0 (integer_cell) holds INTEGER where TEXT is expected") == true)
        #expect(try message { row throws(StorageError) in _ = try row.optionalBlob(1) }?.hasPrefix("column 1 (text_cell) holds TEXT where BLOB is expected") == true)
        #expect(try message { row throws(StorageError) in _ = try row.text(2) }?.hasPrefix("column 2 (blob_cell) holds BLOB where TEXT is expected") == true)
    }

    @Test func aColumnBeyondTheRowIsAnError() throws {
        #expect(try message { row throws(StorageError) in _ = try row.integer(5) }?.hasPrefix("column 5 read from a row of 5") == true)
    }
}
