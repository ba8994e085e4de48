import Foundation
import TOMLKit

/// Reads a TOML table field by field, and afterwards refuses every key that was not read: a
/// misspelt key is an error naming its path, never silently ignored.
struct StrictTable {
    let file: String
    /// Dotted path of this table ("" at the top).
    let path: String
    private let table: TOMLTable
    private var read: Set<String> = []

    init(_ table: TOMLTable, file: String, path: String = "") {
        self.table = table
        self.file = file
        self.path = path
    }

    /// The text of the manifest file at `path`, or an error naming it.
    static func text(of path: String) throws(ManifestError) -> String {
        do {
            return try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ManifestError(file: path, field: "", "cannot read: \(error.localizedDescription)")
        }
    }

    /// Parses `text` as a TOML document.
    static func parse(_ text: String, file: String) throws(ManifestError) -> StrictTable {
        do {
            return StrictTable(try TOMLTable(string: text), file: file)
        } catch let error as TOMLParseError {
            throw ManifestError(file: file, field: "", "not valid TOML at line \(error.source.begin.line), column \(error.source.begin.column): \(error.description)")
        } catch {
            throw ManifestError(file: file, field: "", "not valid TOML: \(error)")
        }
    }

    func fieldPath(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    func error(_ key: String, _ reason: String) -> ManifestError { ManifestError(file: file, field: fieldPath(key), reason) }

    /// The keys of this table, sorted.
    var keys: [String] { table.keys.sorted() }

    func contains(_ key: String) -> Bool { table.contains(key: key) }

    mutating func string(_ key: String) throws(ManifestError) -> String? {
        guard let value = take(key) else { return nil }
        guard let text = value.string else { throw error(key, "expected a string, found \(value.type)") }
        return text
    }

    mutating func requiredString(_ key: String) throws(ManifestError) -> String {
        guard let text = try string(key) else { throw error(key, "missing (a string is required)") }
        return text
    }

    mutating func integer(_ key: String) throws(ManifestError) -> Int? {
        guard let value = take(key) else { return nil }
        guard let number = value.int else { throw error(key, "expected an integer, found \(value.type)") }
        return number
    }

    mutating func number(_ key: String) throws(ManifestError) -> Double? {
        guard let value = take(key) else { return nil }
        if let number = value.double { return number }
        if let number = value.int { return Double(number) }
        throw error(key, "expected a number, found \(value.type)")
    }

    mutating func bool(_ key: String) throws(ManifestError) -> Bool? {
        guard let value = take(key) else { return nil }
        guard let flag = value.bool else { throw error(key, "expected true or false, found \(value.type)") }
        return flag
    }

    mutating func strings(_ key: String) throws(ManifestError) -> [String]? {
        guard let value = take(key) else { return nil }
        guard let array = value.array else { throw error(key, "expected an array of strings, found \(value.type)") }
        var result: [String] = []
        for (index, element) in array.enumerated() {
            guard let text = element.string else { throw error("\(key)[\(index)]", "expected a string, found \(element.type)") }
            result.append(text)
        }
        return result
    }

    mutating func table(_ key: String) throws(ManifestError) -> StrictTable? {
        guard let value = take(key) else { return nil }
        guard let table = value.table else { throw error(key, "expected a table, found \(value.type)") }
        return StrictTable(table, file: file, path: fieldPath(key))
    }

    /// A table taken whole, without key checks (the plugin's own config), as JSON text.
    mutating func json(_ key: String) throws(ManifestError) -> String? {
        guard let value = take(key) else { return nil }
        guard let table = value.table else { throw error(key, "expected a table, found \(value.type)") }
        return table.convert(to: .json, options: [])
    }

    /// Throws for the first key (in sorted order) that no accessor read.
    func rejectUnknownKeys() throws(ManifestError) {
        if let unknown = keys.first(where: { !read.contains($0) }) { throw error(unknown, "unknown key") }
    }

    private mutating func take(_ key: String) -> TOMLValueConvertible? {
        read.insert(key)
        return table[key]
    }
}
