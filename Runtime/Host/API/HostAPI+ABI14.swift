import CarrierCore
import CarrierDHT
import CarrierPluginABI

/// The host calls ABI 1.4 appends: config by key, `authorize_usage`, stores that hand back the
/// value's id, and the `*_owned` calls whose user data the host frees.
extension HostAPI {
    static func installConfigByKey(_ api: inout carrier_host_api_v1) {
        api.config_string = { host, key, output, capacity, lengthOut in
            guard let context = PluginContext.from(host), let key, let output else { return CARRIER_ERR_INVALID_ARGUMENT }
            let (status, text) = context.config.string(String(cString: key))
            guard status == CARRIER_OK, let text else { return status }
            let length = text.utf8.count
            lengthOut?.pointee = length
            guard length < capacity else { return CARRIER_ERR_INVALID_ARGUMENT }
            HostAPI.write(text, to: output, capacity: capacity)
            return CARRIER_OK
        }
        api.config_int = { host, key, valueOut in
            guard let context = PluginContext.from(host), let key, let valueOut else { return CARRIER_ERR_INVALID_ARGUMENT }
            let (status, number) = context.config.integer(String(cString: key))
            if status == CARRIER_OK { valueOut.pointee = number }
            return status
        }
        api.config_bool = { host, key, valueOut in
            guard let context = PluginContext.from(host), let key, let valueOut else { return CARRIER_ERR_INVALID_ARGUMENT }
            let (status, flag) = context.config.bool(String(cString: key))
            if status == CARRIER_OK { valueOut.pointee = flag ? 1 : 0 }
            return status
        }
    }

    static func installAuthorizeUsage(_ api: inout carrier_host_api_v1) {
        api.authorize_usage = { host, client, meter, estimate, decisionOut, message, capacity in
            func invalid(_ why: String) -> carrier_status {
                HostAPI.write(why, to: message, capacity: capacity)
                return CARRIER_ERR_INVALID_ARGUMENT
            }
            guard let context = PluginContext.from(host) else { return invalid("the host handle is NULL") }
            guard let client else { return invalid("the client id is NULL") }
            guard let meter else { return invalid("the meter name is NULL") }
            guard let decisionOut else { return invalid("decision_out is NULL") }
            let name = String(cString: meter)
            guard PluginMetrics.isValidName(name) else {
                return invalid("meter \"\(name)\" is not a meter name ([a-z0-9_], not starting with a digit, at most \(CARRIER_NAME_MAX) bytes)")
            }
            guard context.isMeterDefined(name) else { return invalid("meter \(name) was never declared with define_meter") }
            guard estimate <= Money.maxUnitsPerCall else {
                return invalid("an estimate of \(estimate) \(name) is more than one call may ask for (\(Money.maxUnitsPerCall))")
            }
            let (decision, why) = context.services.authorize(client: CRecords.id(client), meter: name, estimate: estimate)
            decisionOut.pointee = decision
            if decision != CARRIER_BILLING_ALLOWED { HostAPI.write(why, to: message, capacity: capacity) }
            return CARRIER_OK
        }
    }

    static func installStoresWithId(_ api: inout carrier_host_api_v1) {
        api.store = { host, value, cas, callback, userData in
            guard let context = PluginContext.from(host), let callback, cas >= -1, let stored = HostAPI.validValue(value, context) else {
                return CARRIER_ERR_INVALID_ARGUMENT
            }
            return HostAPI.startStore(context, stored, cas: cas, callback: callback, userData: userData)
        }
        api.store_signed = { host, sequence, data, length, cas, callback, userData in
            guard let context = PluginContext.from(host), let callback, cas >= -1, data != nil || length == 0 else { return CARRIER_ERR_INVALID_ARGUMENT }
            var value = Value(publicKey: context.services.nodeId, recipient: nil, nonce: nil, sequenceNumber: sequence, signature: nil,
                              data: CRecords.bytes(data, count: length) ?? [])
            value.signature = context.services.sign(value.signedDigest)
            guard value.signature != nil else { return CARRIER_ERR_FAILED }
            guard let signed = HostAPI.checked(value, context) else { return CARRIER_ERR_INVALID_ARGUMENT }
            return HostAPI.startStore(context, signed, cas: cas, callback: callback, userData: userData)
        }
    }

    /// A store whose callback also gets the value's id.
    private static func startStore(_ context: PluginContext, _ value: Value, cas: Int32, callback: @escaping carrier_stored_callback,
                                   userData: UnsafeMutableRawPointer?) -> carrier_status {
        let services = context.services, reply = Callback(function: callback, userData: userData), condition = cas >= 0 ? cas : nil
        let id = CRecords.id(value.id)
        return context.startCall({ await services.store(value, cas: condition) }, deliver: { outcome in
            let status = outcome.status
            var valueId = id
            reply.function(reply.userData, status, &valueId, UInt32(outcome.accepted), UInt32(outcome.asked))
        }, abandon: {
            var valueId = id
            reply.function(reply.userData, CARRIER_ERR_SHUTTING_DOWN, &valueId, 0, 0)
        })
    }

    static func installOwnedUserData(_ api: inout carrier_host_api_v1) {
        api.post_owned = { host, task, userData, destroy in
            guard let context = PluginContext.from(host), let task else { return CARRIER_ERR_INVALID_ARGUMENT }
            let work = Callback(function: task, userData: userData)
            return context.post({ work.function(work.userData) }, release: HostAPI.release(destroy, userData))
        }
        api.timer_start_owned = { host, delay, interval, task, userData, destroy, timerOut in
            guard let context = PluginContext.from(host), let task, let timerOut else { return CARRIER_ERR_INVALID_ARGUMENT }
            let work = Callback(function: task, userData: userData)
            switch context.startTimer(delay: delay, interval: interval, { work.function(work.userData) }, release: HostAPI.release(destroy, userData)) {
            case .success(let timer):
                timerOut.pointee = timer
                return CARRIER_OK
            case .failure(let refusal):
                return refusal.status
            }
        }
        api.subscribe_events_owned = { host, callback, userData, destroy in
            guard let context = PluginContext.from(host), let callback else { return CARRIER_ERR_INVALID_ARGUMENT }
            return context.subscribe(HostAPI.eventDelivery(Callback(function: callback, userData: userData)),
                                     release: HostAPI.release(destroy, userData))
        }
    }

    /// The plugin's `destroy(user_data)` as a release the context runs once; nil without one.
    private static func release(_ destroy: carrier_destroy_fn?, _ userData: UnsafeMutableRawPointer?) -> (@Sendable () -> Void)? {
        guard let destroy else { return nil }
        let owned = Callback(function: destroy, userData: userData)
        return { owned.function(owned.userData) }
    }
}
