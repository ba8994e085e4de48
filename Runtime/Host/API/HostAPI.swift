import CarrierCore
import CarrierDHT
import CarrierPluginABI
import Foundation

/// The host-API table of ABI 1.4, one for the process, handed to every plugin's entry function.
/// Each function finds its `PluginContext` from the `carrier_host *` handle and checks its
/// arguments: a NULL where the header allows none is CARRIER_ERR_INVALID_ARGUMENT, never a crash.
enum HostAPI {
    nonisolated(unsafe) static let table: UnsafePointer<carrier_host_api_v1> = {
        let table = UnsafeMutablePointer<carrier_host_api_v1>.allocate(capacity: 1)
        table.initialize(to: make())
        return UnsafePointer(table)
    }()

    private static func make() -> carrier_host_api_v1 {
        var api = carrier_host_api_v1()
        api.struct_size = UInt32(MemoryLayout<carrier_host_api_v1>.size)
        api.abi_version = UInt32(CARRIER_ABI_MAJOR) << 16 | UInt32(CARRIER_ABI_MINOR)
        api.log = { host, level, message in
            guard let context = PluginContext.from(host), let message else { return }
            context.services.log(level, String(cString: message))
        }
        api.config_json = { host in UnsafePointer(PluginContext.from(host)?.configJSON) }
        api.storage_directory = { host in UnsafePointer(PluginContext.from(host)?.storageDirectory) }
        api.node_id = { host, output in
            guard let context = PluginContext.from(host), let output else { return }
            output.pointee = CRecords.id(context.services.nodeId)
        }
        api.sign = { host, data, length, signature in
            guard let context = PluginContext.from(host), let signature, length >= 0, data != nil || length == 0 else { return CARRIER_ERR_INVALID_ARGUMENT }
            guard let signed = context.services.sign(CRecords.bytes(data, count: length) ?? []) else { return CARRIER_ERR_FAILED }
            signed.withUnsafeBufferPointer { signature.update(from: $0.baseAddress!, count: 64) }
            return CARRIER_OK
        }
        api.verify = { _, signer, data, length, signature in
            guard let signer, let signature, length >= 0, data != nil || length == 0 else { return CARRIER_ERR_INVALID_ARGUMENT }
            let valid = KeyPair.verify(signature: CRecords.bytes(signature, count: 64)!, of: CRecords.bytes(data, count: length) ?? [],
                                       by: CRecords.id(signer))
            return valid ? CARRIER_OK : CARRIER_ERR_REFUSED
        }
        api.seal = { host, recipient, plaintext, length, output, capacity, outputLength in
            let overhead = SharedKey.nonceByteCount + SharedKey.macByteCount
            guard let context = PluginContext.from(host), let recipient, let output, let outputLength, length >= 0, plaintext != nil || length == 0,
                  capacity >= overhead, capacity - overhead >= length,
                  let sealed = context.services.seal(CRecords.bytes(plaintext, count: length) ?? [], to: CRecords.id(recipient)) else {
                return CARRIER_ERR_INVALID_ARGUMENT
            }
            sealed.withUnsafeBufferPointer { output.update(from: $0.baseAddress!, count: sealed.count) }
            outputLength.pointee = sealed.count
            return CARRIER_OK
        }
        api.open = { host, sender, sealed, length, output, capacity, outputLength in
            let overhead = SharedKey.nonceByteCount + SharedKey.macByteCount
            guard let context = PluginContext.from(host), let sender, let sealed, let output, let outputLength, length >= overhead,
                  capacity >= 0, capacity >= length - overhead else {
                return CARRIER_ERR_INVALID_ARGUMENT
            }
            switch context.services.open(CRecords.bytes(sealed, count: length)!, from: CRecords.id(sender)) {
            case .opened(let plain):
                plain.withUnsafeBufferPointer { if let base = $0.baseAddress { output.update(from: base, count: plain.count) } }
                outputLength.pointee = plain.count
                return CARRIER_OK
            case .refused: return CARRIER_ERR_REFUSED
            case .invalid: return CARRIER_ERR_INVALID_ARGUMENT
            }
        }
        installDHT(&api)
        installDHTStatus(&api)
        installConditionalStore(&api)
        installExecutor(&api)
        installMetricsAndBilling(&api)
        installConfigByKey(&api)
        installAuthorizeUsage(&api)
        installStoresWithId(&api)
        installOwnedUserData(&api)
        installClientPlan(&api)
        installCountTCPSocket(&api)
        api.announce_service = { host, type, endpoint in
            guard let context = PluginContext.from(host), let type, let endpoint else { return CARRIER_ERR_INVALID_ARGUMENT }
            return context.announceService(type: String(cString: type), endpoint: String(cString: endpoint))
        }
        api.withdraw_service = { host, type in
            guard let context = PluginContext.from(host), let type else { return CARRIER_ERR_INVALID_ARGUMENT }
            return context.services.withdrawService(type: String(cString: type)) ? CARRIER_OK : CARRIER_ERR_NOT_FOUND
        }
        api.settlement_result = { host, batch, outcome, message in
            guard let context = PluginContext.from(host) else { return CARRIER_ERR_INVALID_ARGUMENT }
            let text = message.map { String(cString: $0) } ?? (outcome == CARRIER_OK ? "paid" : "failed (status \(outcome.rawValue))")
            return context.services.settlementResult(batch: batch, paid: outcome == CARRIER_OK, message: String(text.prefix(1024)))
                ? CARRIER_OK : CARRIER_ERR_NOT_FOUND
        }
        return api
    }

    /// A C function pointer and its user data, carried to the executor (the plugin vouches for both).
    struct Callback<Function>: @unchecked Sendable {
        let function: Function
        let userData: UnsafeMutableRawPointer?
    }

    private static func installDHT(_ api: inout carrier_host_api_v1) {
        api.find_node = { host, target, callback, userData in
            guard let context = PluginContext.from(host), let target, let callback else { return CARRIER_ERR_INVALID_ARGUMENT }
            let id = CRecords.id(target), services = context.services, reply = Callback(function: callback, userData: userData)
            return context.startCall({ await services.findNode(id) }, deliver: { nodes in
                var records = nodes.map(CRecords.nodeInfo)
                records.withUnsafeMutableBufferPointer { reply.function(reply.userData, CARRIER_OK, $0.baseAddress, $0.count) }
            }, abandon: { reply.function(reply.userData, CARRIER_ERR_SHUTTING_DOWN, nil, 0) })
        }
        api.find_value = { host, valueId, cas, callback, userData in
            guard let context = PluginContext.from(host), let valueId, let callback else { return CARRIER_ERR_INVALID_ARGUMENT }
            let id = CRecords.id(valueId), services = context.services, reply = Callback(function: callback, userData: userData)
            return context.startCall({ await services.findValue(id, cas: cas >= 0 ? cas : nil) }, deliver: { outcome in
                switch outcome {
                case .found(let value)?: CRecords.withCValue(value) { reply.function(reply.userData, CARRIER_OK, $0) }
                case .notFound?: reply.function(reply.userData, CARRIER_ERR_NOT_FOUND, nil)
                case .unreachable?: reply.function(reply.userData, CARRIER_ERR_UNREACHABLE, nil)
                case nil: reply.function(reply.userData, CARRIER_ERR_FAILED, nil)
                }
            }, abandon: { reply.function(reply.userData, CARRIER_ERR_SHUTTING_DOWN, nil) })
        }
        api.store_value = { host, value, callback, userData in
            guard let context = PluginContext.from(host), let callback, let stored = HostAPI.validValue(value, context) else {
                return CARRIER_ERR_INVALID_ARGUMENT
            }
            return HostAPI.startWrite(context, callback: callback, userData: userData) { await $0.store(stored, cas: nil) }
        }
        api.store_signed_value = { host, sequence, data, length, callback, userData in
            guard let context = PluginContext.from(host), let callback, length >= 0, data != nil || length == 0 else { return CARRIER_ERR_INVALID_ARGUMENT }
            var value = Value(publicKey: context.services.nodeId, recipient: nil, nonce: nil, sequenceNumber: sequence, signature: nil,
                              data: CRecords.bytes(data, count: length) ?? [])
            value.signature = context.services.sign(value.signedDigest)
            guard value.signature != nil else { return CARRIER_ERR_FAILED }
            guard let signed = HostAPI.checked(value, context) else { return CARRIER_ERR_INVALID_ARGUMENT }
            return HostAPI.startWrite(context, callback: callback, userData: userData) { await $0.store(signed, cas: nil) }
        }
        api.find_peers = { host, peerId, maxCount, callback, userData in
            guard let context = PluginContext.from(host), let peerId, let callback, (1...8).contains(maxCount) else {
                return CARRIER_ERR_INVALID_ARGUMENT
            }
            let id = CRecords.id(peerId), services = context.services, reply = Callback(function: callback, userData: userData)
            return context.startCall({ await services.findPeers(id, count: Int(maxCount)) }, deliver: { outcome in
                switch outcome {
                case .found(let peers)?: CRecords.withCPeers(peers) { reply.function(reply.userData, CARRIER_OK, $0, $1) }
                case .notFound?: reply.function(reply.userData, CARRIER_OK, nil, 0)
                case .unreachable?: reply.function(reply.userData, CARRIER_ERR_UNREACHABLE, nil, 0)
                case nil: reply.function(reply.userData, CARRIER_ERR_FAILED, nil, 0)
                }
            }, abandon: { reply.function(reply.userData, CARRIER_ERR_SHUTTING_DOWN, nil, 0) })
        }
        api.announce_peer = { host, peer, callback, userData in
            guard let context = PluginContext.from(host), let peer, let callback, let record = CRecords.peer(peer), record.isValid else {
                return CARRIER_ERR_INVALID_ARGUMENT
            }
            return HostAPI.startWrite(context, callback: callback, userData: userData) { await $0.announce(record) }
        }
        api.subscribe_events = { host, callback, userData in
            guard let context = PluginContext.from(host), let callback else { return CARRIER_ERR_INVALID_ARGUMENT }
            return context.subscribe(HostAPI.eventDelivery(Callback(function: callback, userData: userData)))
        }
    }

    /// Hands each DHT event to the plugin's callback as a `carrier_event`.
    static func eventDelivery(_ reply: Callback<carrier_event_callback>) -> @Sendable (DHTEvent) -> Void {
        { event in
            switch event {
            case .valueUpdated(let value):
                CRecords.withCValue(value) { value in
                    var c = carrier_event(kind: CARRIER_EVENT_VALUE_UPDATED, value: value, peer: nil)
                    reply.function(reply.userData, &c)
                }
            case .peerAnnounced(let peer):
                CRecords.withCPeers([peer]) { peers, _ in
                    var c = carrier_event(kind: CARRIER_EVENT_PEER_ANNOUNCED, value: nil, peer: peers)
                    reply.function(reply.userData, &c)
                }
            }
        }
    }

    /// The value behind `pointer` if it is one a node would store; otherwise nil, and the plugin's
    /// log says why (data over its limit, a signature that does not verify, ...).
    static func validValue(_ pointer: UnsafePointer<carrier_value>?, _ context: PluginContext) -> Value? {
        guard let pointer else {
            context.services.log(CARRIER_LOG_ERROR, "store refused: the value is NULL")
            return nil
        }
        guard let value = CRecords.value(pointer) else {
            context.services.log(CARRIER_LOG_ERROR, "store refused: the value's data is NULL with a length above 0")
            return nil
        }
        return checked(value, context)
    }

    /// `value` if a node would store it; otherwise nil, and the plugin's log says why.
    static func checked(_ value: Value, _ context: PluginContext) -> Value? {
        do throws(ProtocolError) {
            try value.validate()
        } catch {
            context.services.log(CARRIER_LOG_ERROR, "store refused: \(error.reason)")
            return nil
        }
        return value
    }

    /// A store or announcement: the callback learns how many of the closest nodes accepted (and,
    /// for a conditional store, whether any held a newer version).
    private static func startWrite(_ context: PluginContext, callback: @escaping carrier_write_callback, userData: UnsafeMutableRawPointer?,
                                   _ write: @escaping @Sendable (any PluginServices) async -> WriteOutcome) -> carrier_status {
        let services = context.services, reply = Callback(function: callback, userData: userData)
        return context.startCall({ await write(services) }, deliver: { outcome in
            let status = outcome.status
            reply.function(reply.userData, status, UInt32(outcome.accepted), UInt32(outcome.asked))
        }, abandon: { reply.function(reply.userData, CARRIER_ERR_SHUTTING_DOWN, 0, 0) })
    }

    private static func installConditionalStore(_ api: inout carrier_host_api_v1) {
        api.store_value_cas = { host, value, cas, callback, userData in
            guard let context = PluginContext.from(host), let callback, cas >= 0, let stored = HostAPI.validValue(value, context) else {
                return CARRIER_ERR_INVALID_ARGUMENT
            }
            return HostAPI.startWrite(context, callback: callback, userData: userData) { await $0.store(stored, cas: cas) }
        }
    }

    private static func installDHTStatus(_ api: inout carrier_host_api_v1) {
        api.dht_status = { host, callback, userData in
            guard let context = PluginContext.from(host), let callback else { return CARRIER_ERR_INVALID_ARGUMENT }
            let services = context.services, reply = Callback(function: callback, userData: userData)
            return context.startCall({ await services.dhtStatus() }, deliver: { status in
                guard let status else { return reply.function(reply.userData, CARRIER_ERR_FAILED, nil) }
                var counts = carrier_dht_status(good_ipv4: UInt32(clamping: status.goodIPv4), dubious_ipv4: UInt32(clamping: status.dubiousIPv4),
                                                good_ipv6: UInt32(clamping: status.goodIPv6), dubious_ipv6: UInt32(clamping: status.dubiousIPv6))
                reply.function(reply.userData, CARRIER_OK, &counts)
            }, abandon: { reply.function(reply.userData, CARRIER_ERR_SHUTTING_DOWN, nil) })
        }
    }

    private static func installExecutor(_ api: inout carrier_host_api_v1) {
        api.post = { host, task, userData in
            guard let context = PluginContext.from(host), let task else { return CARRIER_ERR_INVALID_ARGUMENT }
            let work = Callback(function: task, userData: userData)
            return context.post { work.function(work.userData) }
        }
        api.timer_start = { host, delay, interval, task, userData, timerOut in
            guard let context = PluginContext.from(host), let task, let timerOut else { return CARRIER_ERR_INVALID_ARGUMENT }
            let work = Callback(function: task, userData: userData)
            switch context.startTimer(delay: delay, interval: interval, { work.function(work.userData) }) {
            case .success(let timer):
                timerOut.pointee = timer
                return CARRIER_OK
            case .failure(let refusal):
                return refusal.status
            }
        }
        api.timer_cancel = { host, timer in
            guard let context = PluginContext.from(host) else { return CARRIER_ERR_INVALID_ARGUMENT }
            return context.cancelTimer(timer) ? CARRIER_OK : CARRIER_ERR_NOT_FOUND
        }
    }

    private static func installMetricsAndBilling(_ api: inout carrier_host_api_v1) {
        api.counter_add = { host, name, delta in
            guard let context = PluginContext.from(host), let name, delta >= 0, delta.isFinite,
                  case let text = String(cString: name), PluginMetrics.isValidName(text) else { return CARRIER_ERR_INVALID_ARGUMENT }
            return context.services.add(counter: text, delta) ? CARRIER_OK : CARRIER_ERR_INVALID_ARGUMENT
        }
        api.gauge_set = { host, name, value in
            guard let context = PluginContext.from(host), let name, value.isFinite,
                  case let text = String(cString: name), PluginMetrics.isValidName(text) else { return CARRIER_ERR_INVALID_ARGUMENT }
            return context.services.set(gauge: text, value) ? CARRIER_OK : CARRIER_ERR_INVALID_ARGUMENT
        }
        api.define_meter = { host, meter, unit in
            guard let context = PluginContext.from(host), let meter, let unit, case let name = String(cString: meter),
                  PluginMetrics.isValidName(name) else { return CARRIER_ERR_INVALID_ARGUMENT }
            return context.defineMeter(name, unit: String(cString: unit))
        }
        api.authorize = { host, client, meter, estimate, reason, capacity in
            guard let context = PluginContext.from(host), let client, let meter else { return CARRIER_BILLING_PAYMENT_REQUIRED }
            let name = String(cString: meter)
            guard context.isMeterDefined(name) else {
                HostAPI.write("meter \(name) was never defined by the plugin", to: reason, capacity: capacity)
                return CARRIER_BILLING_PAYMENT_REQUIRED
            }
            guard estimate <= Money.maxUnitsPerCall else {
                HostAPI.write("an estimate of \(estimate) \(name) is more than one call may ask for", to: reason, capacity: capacity)
                return CARRIER_BILLING_QUOTA_EXCEEDED
            }
            let (decision, why) = context.services.authorize(client: CRecords.id(client), meter: name, estimate: estimate)
            if decision != CARRIER_BILLING_ALLOWED { HostAPI.write(why, to: reason, capacity: capacity) }
            return decision
        }
        api.report_usage = { host, client, meter, amount in
            guard let context = PluginContext.from(host), let client, let meter, case let name = String(cString: meter),
                  context.isMeterDefined(name), amount <= Money.maxUnitsPerCall else { return CARRIER_ERR_INVALID_ARGUMENT }
            context.services.reportUsage(client: CRecords.id(client), meter: name, amount: amount)
            return CARRIER_OK
        }
    }

    /// Copies `text` into a caller's buffer as a NUL-terminated string, truncated to fit.
    static func write(_ text: String, to buffer: UnsafeMutablePointer<CChar>?, capacity: Int) {
        guard let buffer, capacity > 0 else { return }
        let bytes = Array(text.utf8.prefix(capacity - 1))
        bytes.withUnsafeBufferPointer { source in
            source.withMemoryRebound(to: CChar.self) { if let base = $0.baseAddress { buffer.update(from: base, count: bytes.count) } }
        }
        buffer[bytes.count] = 0
    }
}
