import CarrierCore
import CarrierPluginABI

/// The manifest's `[config]` section, read one key at a time for `config_string`, `config_int` and
/// `config_bool` (ABI 1.4). A dotted key walks nested tables: "limits.burst" is `burst` in
/// `[config.limits]`.
struct PluginConfig: Sendable {
    /// What a lookup found.
    enum Lookup: Equatable {
        case found(JSONValue)
        /// No such key (or a part of the path is not a table).
        case absent
        /// The config text is not one the host's JSON reader takes (it holds a float, say): its
        /// keys are read from `config_json`.
        case unreadable
    }

    private let root: Swift.Result<JSONValue, JSONError>

    init(json: String) {
        root = Swift.Result { () throws(JSONError) -> JSONValue in try JSONParser.parse(json) }
    }

    func lookup(_ key: String) -> Lookup {
        let value: JSONValue
        switch root {
        case .success(let parsed): value = parsed
        case .failure: return .unreadable
        }
        var current = value
        for part in key.split(separator: ".", omittingEmptySubsequences: false) {
            guard case .object(let entries) = current, let entry = entries.first(where: { $0.key == part }) else { return .absent }
            current = entry.value
        }
        return .found(current)
    }

    /// The status and string of `key`: INVALID_ARGUMENT for another type.
    func string(_ key: String) -> (carrier_status, String?) {
        switch lookup(key) {
        case .found(.string(let text)): (CARRIER_OK, text)
        case .found: (CARRIER_ERR_INVALID_ARGUMENT, nil)
        case .absent: (CARRIER_ERR_NOT_FOUND, nil)
        case .unreadable: (CARRIER_ERR_FAILED, nil)
        }
    }

    func integer(_ key: String) -> (carrier_status, Int64) {
        switch lookup(key) {
        case .found(.integer(let number)): (CARRIER_OK, number)
        case .found: (CARRIER_ERR_INVALID_ARGUMENT, 0)
        case .absent: (CARRIER_ERR_NOT_FOUND, 0)
        case .unreadable: (CARRIER_ERR_FAILED, 0)
        }
    }

    func bool(_ key: String) -> (carrier_status, Bool) {
        switch lookup(key) {
        case .found(.bool(let flag)): (CARRIER_OK, flag)
        case .found: (CARRIER_ERR_INVALID_ARGUMENT, false)
        case .absent: (CARRIER_ERR_NOT_FOUND, false)
        case .unreadable: (CARRIER_ERR_FAILED, false)
        }
    }
}
