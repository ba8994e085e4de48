import CarrierPluginABI

/// The host call ABI 1.5 appends: `client_plan`.
extension HostAPI {
    static func installClientPlan(_ api: inout carrier_host_api_v1) {
        api.client_plan = { host, client, output, capacity, lengthOut in
            guard let context = PluginContext.from(host), let client, let output else { return CARRIER_ERR_INVALID_ARGUMENT }
            switch context.services.clientPlan(CRecords.id(client)) {
            case .plan(let name?):
                let length = name.utf8.count
                lengthOut?.pointee = length
                guard length < capacity else { return CARRIER_ERR_INVALID_ARGUMENT }
                HostAPI.write(name, to: output, capacity: capacity)
                return CARRIER_OK
            case .plan(nil): return CARRIER_ERR_NOT_FOUND
            default: return CARRIER_ERR_TIMEOUT
            }
        }
    }
}
