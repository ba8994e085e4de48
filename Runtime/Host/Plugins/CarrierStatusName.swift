import CarrierPluginABI

extension carrier_status {
    /// The header's name of this status (`CARRIER_ERR_INVALID_ARGUMENT`), for operators; `status N`
    /// for a value this host does not know.
    public var name: String {
        switch self {
        case CARRIER_OK: "CARRIER_OK"
        case CARRIER_ERR_INVALID_ARGUMENT: "CARRIER_ERR_INVALID_ARGUMENT"
        case CARRIER_ERR_NOT_FOUND: "CARRIER_ERR_NOT_FOUND"
        case CARRIER_ERR_UNSUPPORTED: "CARRIER_ERR_UNSUPPORTED"
        case CARRIER_ERR_FAILED: "CARRIER_ERR_FAILED"
        case CARRIER_ERR_TIMEOUT: "CARRIER_ERR_TIMEOUT"
        case CARRIER_ERR_REFUSED: "CARRIER_ERR_REFUSED"
        case CARRIER_ERR_SHUTTING_DOWN: "CARRIER_ERR_SHUTTING_DOWN"
        case CARRIER_ERR_CONFLICT: "CARRIER_ERR_CONFLICT"
        case CARRIER_ERR_UNREACHABLE: "CARRIER_ERR_UNREACHABLE"
        default: "status \(rawValue)"
        }
    }
}
