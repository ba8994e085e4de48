import CarrierPluginABI
import Synchronization

/// The host, as a Swift plugin sees it: the C host-API table and this instance's handle, with
/// Swift types and async/await over the callback calls. Use it from the plugin's methods (the
/// executor); `task` runs async code there (each `await` resumes there), and `post` brings work
/// from other threads back there.
public struct CarrierHostAPI: @unchecked Sendable {
    // @unchecked: the table and handle are the host's, valid for the instance's life, thread-safe.
    /// The raw C table and this instance's handle, for calls without a Swift wrapper here
    /// (`seal`, `open`, `verify`).
    public let api: UnsafePointer<carrier_host_api_v1>
    public let handle: OpaquePointer

    init(api: UnsafePointer<carrier_host_api_v1>, handle: OpaquePointer) {
        self.api = api
        self.handle = handle
    }

    /// Log levels, as the host's.
    public enum LogLevel: UInt32, Sendable { case trace = 0, debug, info, notice, warning, error }

    /// A failed host call.
    public struct Failure: Error, CustomStringConvertible {
        public let status: Int32
        /// A conditional store met a newer version (CARRIER_ERR_CONFLICT).
        public var isConflict: Bool { status == Int32(CARRIER_ERR_CONFLICT.rawValue) }
        /// No node answered (CARRIER_ERR_UNREACHABLE): the network, not the item, is missing.
        public var isUnreachable: Bool { status == Int32(CARRIER_ERR_UNREACHABLE.rawValue) }
        public var description: String {
            let names: [UInt32: String] = [
                CARRIER_ERR_INVALID_ARGUMENT.rawValue: "invalid argument", CARRIER_ERR_NOT_FOUND.rawValue: "not found",
                CARRIER_ERR_UNSUPPORTED.rawValue: "not supported by this host", CARRIER_ERR_FAILED.rawValue: "failed",
                CARRIER_ERR_TIMEOUT.rawValue: "timed out", CARRIER_ERR_REFUSED.rawValue: "refused (no node accepted it, or the host said no)",
                CARRIER_ERR_SHUTTING_DOWN.rawValue: "the plugin is stopping",
                CARRIER_ERR_CONFLICT.rawValue: "conflict (a node holds a newer version than the cas)",
                CARRIER_ERR_UNREACHABLE.rawValue: "unreachable (no node answered; try again)",
            ]
            return "host call \(names[UInt32(bitPattern: status)] ?? "failed") (status \(status))"
        }
    }

    /// Runs `body` as a task whose code runs on the instance's executor, before and after each
    /// `await`: it may use the plugin's state as the plugin's methods do, without locks.
    @discardableResult
    public func task<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) -> Task<T, any Error> {
        Task(executorPreference: PluginExecutor(host: self)) { try await body() }
    }

    /// Whether the calling code runs on the instance's executor (in a plugin method, a timer, an
    /// event, posted work, or a `task` between its awaits).
    public var isOnExecutor: Bool { OnExecutor.isCurrent(handle) }

    public func log(_ level: LogLevel, _ message: String) {
        api.pointee.log(handle, carrier_log_level(rawValue: level.rawValue), message)
    }

    /// The supernode's node id (32 bytes).
    public var nodeId: [UInt8] {
        var id = carrier_id()
        api.pointee.node_id(handle, &id)
        return withUnsafeBytes(of: id.bytes) { Array($0) }
    }

    /// The string under `key` in the manifest's `[config]` (dotted for nested tables), nil when
    /// absent; throws `Failure` when it is another type.
    public func configString(_ key: String) throws -> String? {
        var length = 0
        var buffer = [CChar](repeating: 0, count: 256)
        var status = api.pointee.config_string(handle, key, &buffer, buffer.count, &length)
        if status == CARRIER_ERR_INVALID_ARGUMENT, length >= buffer.count {
            buffer = [CChar](repeating: 0, count: length + 1)
            status = api.pointee.config_string(handle, key, &buffer, buffer.count, &length)
        }
        if status == CARRIER_ERR_NOT_FOUND { return nil }
        try check(status)
        return String(decoding: buffer.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The integer under `key` in `[config]`, nil when absent; throws when it is another type.
    public func configInt(_ key: String) throws -> Int64? {
        var value: Int64 = 0
        let status = api.pointee.config_int(handle, key, &value)
        if status == CARRIER_ERR_NOT_FOUND { return nil }
        try check(status)
        return value
    }

    /// The boolean under `key` in `[config]`, nil when absent; throws when it is another type.
    public func configBool(_ key: String) throws -> Bool? {
        var value: Int32 = 0
        let status = api.pointee.config_bool(handle, key, &value)
        if status == CARRIER_ERR_NOT_FOUND { return nil }
        try check(status)
        return value != 0
    }

    /// The plugin's private folder.
    public var storageDirectory: String { api.pointee.storage_directory(handle).map { String(cString: $0) } ?? "" }

    /// Signs `data` with the node key (64 bytes).
    public func sign(_ data: [UInt8]) throws -> [UInt8] {
        var signature = [UInt8](repeating: 0, count: 64)
        try check(api.pointee.sign(handle, data, data.count, &signature))
        return signature
    }

    public func counterAdd(_ name: String, _ delta: Double = 1) { _ = api.pointee.counter_add(handle, name, delta) }
    public func gaugeSet(_ name: String, _ value: Double) { _ = api.pointee.gauge_set(handle, name, value) }

    /// Declares a billing meter (only while the plugin is being created).
    public func defineMeter(_ meter: String, unit: String) throws { try check(api.pointee.define_meter(handle, meter, unit)) }

    /// What billing says about a client's use.
    public enum Authorization: Sendable, Equatable {
        case allowed
        /// The free quota or hard limit of the period is used up; the reason is for the client.
        case quotaExceeded(String)
        /// The client's plan needs credit it does not have.
        case paymentRequired(String)
    }

    /// May `client` (a 32-byte node id) use `estimate` units of `meter` now?
    public func authorize(client: [UInt8], meter: String, estimate: UInt64) -> Authorization {
        guard client.count == 32 else { return .paymentRequired("a client id is 32 bytes, not \(client.count)") }
        var id = carrier_id()
        withUnsafeMutableBytes(of: &id.bytes) { $0.copyBytes(from: client.prefix(32)) }
        var reason = [CChar](repeating: 0, count: 256)
        let decision = api.pointee.authorize(handle, &id, meter, estimate, &reason, reason.count)
        let text = String(decoding: reason.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        switch decision {
        case CARRIER_BILLING_ALLOWED: return .allowed
        case CARRIER_BILLING_QUOTA_EXCEEDED: return .quotaExceeded(text)
        default: return .paymentRequired(text)
        }
    }

    /// `authorize` with programming errors apart (ABI 1.4): throws `PluginError` with the host's
    /// message for a meter never declared, a name that is not a meter name, or an estimate over
    /// what one call may ask for.
    public func authorizeUsage(client: [UInt8], meter: String, estimate: UInt64) throws -> Authorization {
        guard client.count == 32 else { throw PluginError("a client id is 32 bytes, not \(client.count)") }
        var id = carrier_id()
        withUnsafeMutableBytes(of: &id.bytes) { $0.copyBytes(from: client.prefix(32)) }
        var decision = CARRIER_BILLING_PAYMENT_REQUIRED
        var message = [CChar](repeating: 0, count: 256)
        let status = api.pointee.authorize_usage(handle, &id, meter, estimate, &decision, &message, message.count)
        let text = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard status == CARRIER_OK else { throw PluginError(text) }
        switch decision {
        case CARRIER_BILLING_ALLOWED: return .allowed
        case CARRIER_BILLING_QUOTA_EXCEEDED: return .quotaExceeded(text)
        default: return .paymentRequired(text)
        }
    }

    /// The name of the plan this plugin bills `client` (a 32-byte node id) by (ABI 1.5): the plan
    /// the operator put the client on when this manifest has it, else the default plan; nil when
    /// the manifest has no plans. Throws when the host is older than 1.5 or did not answer.
    public func clientPlan(_ client: [UInt8]) throws -> String? {
        guard client.count == 32 else { throw PluginError("a client id is 32 bytes, not \(client.count)") }
        guard hostHas(\.client_plan), let call = api.pointee.client_plan else { throw PluginError("the host's ABI is older than 1.5: no client_plan") }
        var id = carrier_id()
        withUnsafeMutableBytes(of: &id.bytes) { $0.copyBytes(from: client.prefix(32)) }
        var name = [CChar](repeating: 0, count: 128), length = 0
        var status = call(handle, &id, &name, name.count, &length)
        if status == CARRIER_ERR_INVALID_ARGUMENT, length >= name.count {
            name = [CChar](repeating: 0, count: length + 1)
            status = call(handle, &id, &name, name.count, &length)
        }
        if status == CARRIER_ERR_NOT_FOUND { return nil }
        try check(status)
        return String(decoding: name.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Has the host bill `client` under `meter` for `socket`'s bytes, both ways, by the kernel's
    /// own count from its first byte until it is destroyed (ABI 1.6), instead of the plugin's
    /// report. True when the host counts it; false when it cannot (the socket is gone already, the
    /// host cannot ask its kernel, did not answer, or is older than 1.6): bill those bytes with
    /// `reportUsage` then. A socket counted already answers true. Throws for a meter never defined
    /// or an invalid socket.
    public func countTCPSocket(_ socket: TCPSocketName, client: [UInt8], meter: String) throws -> Bool {
        guard client.count == 32 else { throw PluginError("a client id is 32 bytes, not \(client.count)") }
        guard hostHas(\.count_tcp_socket), let call = api.pointee.count_tcp_socket else { return false }
        var id = carrier_id()
        withUnsafeMutableBytes(of: &id.bytes) { $0.copyBytes(from: client.prefix(32)) }
        var named = socket.carrier
        let status = call(handle, &id, meter, &named)
        switch status {
        case CARRIER_OK, CARRIER_ERR_CONFLICT: return true
        case CARRIER_ERR_NOT_FOUND, CARRIER_ERR_UNSUPPORTED, CARRIER_ERR_TIMEOUT: return false
        default: throw Failure(status: Int32(bitPattern: status.rawValue))
        }
    }

    /// Records that `client` used `amount` units of `meter`.
    public func reportUsage(client: [UInt8], meter: String, amount: UInt64) throws {
        guard client.count == 32 else { throw Failure(status: Int32(CARRIER_ERR_INVALID_ARGUMENT.rawValue)) }
        var id = carrier_id()
        withUnsafeMutableBytes(of: &id.bytes) { $0.copyBytes(from: client.prefix(32)) }
        try check(api.pointee.report_usage(handle, &id, meter, amount))
    }

    /// A settlement backend's outcome for a batch it took: paid, or failed with a reason.
    public func reportSettlement(batchId: UInt64, paid: Bool, message: String? = nil) throws {
        try check(api.pointee.settlement_result(handle, batchId, paid ? CARRIER_OK : CARRIER_ERR_FAILED, message))
    }

    public func announceService(_ type: String, endpoint: String) throws { try check(api.pointee.announce_service(handle, type, endpoint)) }
    public func withdrawService(_ type: String) throws { try check(api.pointee.withdraw_service(handle, type)) }

    /// Runs `work` on the executor soon; from any thread (e.g. after an `await`, which resumes
    /// elsewhere). Returns false if the instance is stopping.
    @discardableResult
    public func post(_ work: @escaping @Sendable () -> Void) -> Bool {
        let box = TaskBox(work, repeating: false, host: handle)
        guard api.pointee.post(handle, { TaskBox.run($0) }, HostHeld.keep(box, host: handle)) == CARRIER_OK else {
            HostHeld.drop(box, host: handle)
            return false
        }
        return true
    }

    /// Runs `task` on the executor after `delay` ms, then every `interval` ms (0: once). Returns its id.
    public func startTimer(delay: UInt64, interval: UInt64, _ task: @escaping () -> Void) throws -> UInt64 {
        let box = TaskBox(task, repeating: interval != 0, host: handle)
        var timer: UInt64 = 0
        let status = api.pointee.timer_start(handle, delay, interval, { userData in
            TaskBox.run(userData)
        }, HostHeld.keep(box, host: handle), &timer)
        guard status == CARRIER_OK else {
            HostHeld.drop(box, host: handle)
            throw Failure(status: Int32(bitPattern: status.rawValue))
        }
        HostHeld.name(box, timer: timer, host: handle)
        return timer
    }

    /// Cancels a timer and frees its closure.
    public func cancelTimer(_ timer: UInt64) {
        guard api.pointee.timer_cancel(handle, timer) == CARRIER_OK else { return }
        HostHeld.dropTimer(timer, host: handle)
    }

    /// Signs `data` as a mutable value of the node key with `sequenceNumber` and stores it on the
    /// K closest nodes; returns (accepted, asked).
    public func storeSignedValue(sequenceNumber: Int32, data: [UInt8]) async throws -> (accepted: Int, asked: Int) {
        try await callback { box in api.pointee.store_signed_value(handle, sequenceNumber, data, data.count, Self.writeDone, box) }
    }


    /// Signs `data` as a mutable value of the node key and stores it (ABI 1.4), conditionally with
    /// a `cas` >= 0 (a conflict throws a `Failure` whose `isConflict` is true); returns the
    /// value's id (the node id) with the counts.
    public func storeSigned(sequenceNumber: Int32, data: [UInt8], cas: Int32 = -1) async throws -> (id: [UInt8], accepted: Int, asked: Int) {
        try await callback { box in
            api.pointee.store_signed(handle, sequenceNumber, data, data.count, cas, { userData, status, valueId, accepted, asked in
                ContinuationBox<(id: [UInt8], accepted: Int, asked: Int)>.finish(userData, status) {
                    (valueId.map { id in withUnsafeBytes(of: id.pointee.bytes) { Array($0) } } ?? [], Int(accepted), Int(asked))
                }
            }, box)
        }
    }

    /// The data of the value with `id` (32 bytes), or nil if the network has none.
    public func findValueData(_ id: [UInt8], cas: Int32 = -1) async throws -> [UInt8]? {
        try await findValue(id, cas: cas)?.data
    }

    /// The value with `id` (32 bytes), whole (keys, nonce, signature: what a light node needs to
    /// check it), or nil if the network has none.
    public func findValue(_ id: [UInt8], cas: Int32 = -1) async throws -> DHTValue? {
        try Self.require(id, 32)
        var arena = CArena()
        defer { arena.free() }
        let target = arena.id(id)
        return try await callback { box in
            api.pointee.find_value(handle, target, cas, { userData, status, value in
                ContinuationBox<DHTValue?>.finish(userData, status == CARRIER_ERR_NOT_FOUND ? CARRIER_OK : status) {
                    value.map { DHTValue($0.pointee) }
                }
            }, box)
        }
    }

    /// The K closest nodes to `target` (32 bytes) that answered.
    public func findNode(_ target: [UInt8]) async throws -> [NodeContact] {
        try Self.require(target, 32)
        var arena = CArena()
        defer { arena.free() }
        let id = arena.id(target)
        return try await callback { box in
            api.pointee.find_node(handle, id, { userData, status, nodes, count in
                ContinuationBox<[NodeContact]>.finish(userData, status) {
                    Array(UnsafeBufferPointer(start: nodes, count: count)).map(NodeContact.init)
                }
            }, box)
        }
    }

    /// Up to `max` (1-8) verified peer records for `peerId`.
    public func findPeers(_ peerId: [UInt8], max: Int = 8) async throws -> [PeerRecord] {
        try Self.require(peerId, 32)
        var arena = CArena()
        defer { arena.free() }
        let id = arena.id(peerId)
        return try await callback { box in
            api.pointee.find_peers(handle, id, UInt32(clamping: max), { userData, status, peers, count in
                ContinuationBox<[PeerRecord]>.finish(userData, status) {
                    Array(UnsafeBufferPointer(start: peers, count: count)).map(PeerRecord.init)
                }
            }, box)
        }
    }

    /// Whether the host stores on a condition (`storeValue(_:cas:)`, ABI 1.3).
    public var supportsConditionalStore: Bool { hostHas(\.store_value_cas) && api.pointee.store_value_cas != nil }

    /// Stores a complete, valid value (signed by its owner) on the K closest nodes. With a `cas`
    /// (ABI 1.3), a node holding a version with a greater sequence number refuses it, and the
    /// call throws a `Failure` whose `isConflict` is true: read the value again, merge, retry.
    /// Other nodes may have taken it by then (the counts are not reported with a conflict).
    public func storeValue(_ value: DHTValue, cas: Int32? = nil) async throws -> (accepted: Int, asked: Int) {
        if let cas {
            guard cas >= 0 else { throw Failure(status: Int32(CARRIER_ERR_INVALID_ARGUMENT.rawValue)) }
            guard supportsConditionalStore else { throw Failure(status: Int32(CARRIER_ERR_UNSUPPORTED.rawValue)) }
        }
        for (part, size) in [(value.publicKey, 32), (value.recipient, 32), (value.nonce, 24), (value.signature, 64)] {
            if let part { try Self.require(part, size) }
        }
        var arena = CArena()
        defer { arena.free() }
        var c = carrier_value()
        c.public_key = value.publicKey.map { arena.id($0) }
        c.recipient = value.recipient.map { arena.id($0) }
        c.nonce = value.nonce.map { arena.copy($0) }
        c.signature = value.signature.map { arena.copy($0) }
        c.sequence_number = value.sequenceNumber
        c.data = arena.copy(value.data)
        c.data_length = value.data.count
        let pointer = arena.copy([c])
        if let cas, let conditional = api.pointee.store_value_cas {
            return try await callback { box in conditional(handle, pointer, cas, Self.writeDone, box) }
        }
        return try await callback { box in api.pointee.store_value(handle, pointer, Self.writeDone, box) }
    }

    /// Announces a complete, valid peer record to the K closest nodes.
    public func announcePeer(_ peer: PeerRecord) async throws -> (accepted: Int, asked: Int) {
        for (part, size) in [(peer.peerId, 32), (peer.nodeId ?? [UInt8](repeating: 0, count: 32), 32),
                             (peer.nodeSignature ?? [UInt8](repeating: 0, count: 64), 64), (peer.signature, 64)] {
            try Self.require(part, size)
        }
        var arena = CArena()
        defer { arena.free() }
        var c = carrier_peer()
        withUnsafeMutableBytes(of: &c.peer_id.bytes) { $0.copyBytes(from: peer.peerId.prefix(32)) }
        c.node_id = peer.nodeId.map { arena.id($0) }
        c.node_signature = peer.nodeSignature.map { arena.copy($0) }
        c.sequence_number = peer.sequenceNumber
        c.fingerprint = peer.fingerprint
        c.endpoint = arena.copy(Array(peer.endpoint.utf8CString))
        c.extra = peer.extra.map { arena.copy($0) }
        c.extra_length = peer.extra?.count ?? 0
        c.signature = arena.copy(peer.signature)
        let pointer = arena.copy([c])
        return try await callback { box in api.pointee.announce_peer(handle, pointer, Self.writeDone, box) }
    }

    /// The supernode's routing-table counts (ABI 1.2). Throws `Failure` with
    /// CARRIER_ERR_UNSUPPORTED from a 1.0 or 1.1 host, which lacks the call.
    public func dhtStatus() async throws -> DHTStatus {
        guard hostHas(\.dht_status), let call = api.pointee.dht_status else {
            throw Failure(status: Int32(CARRIER_ERR_UNSUPPORTED.rawValue))
        }
        return try await callback { box in
            call(handle, { userData, status, counts in
                ContinuationBox<DHTStatus>.finish(userData, status) { counts.map { DHTStatus($0.pointee) } ?? DHTStatus() }
            }, box)
        }
    }

    /// Calls `handler` on the executor for every change of the supernode's DHT storage until the
    /// plugin stops (one subscription per instance).
    public func subscribeEvents(_ handler: @escaping (DHTStorageEvent) -> Void) throws {
        let box = EventBox(handler, host: handle)
        let status = api.pointee.subscribe_events(handle, { userData, event in
            guard let userData, let event else { return }
            let box = Unmanaged<EventBox>.fromOpaque(userData).takeUnretainedValue()
            OnExecutor.run(box.host) {
                switch event.pointee.kind {
                case CARRIER_EVENT_VALUE_UPDATED: if let value = event.pointee.value { box.handler(.valueUpdated(DHTValue(value.pointee))) }
                case CARRIER_EVENT_PEER_ANNOUNCED: if let peer = event.pointee.peer { box.handler(.peerAnnounced(PeerRecord(peer.pointee))) }
                default: break
                }
            }
        }, HostHeld.keep(box, host: handle))
        guard status == CARRIER_OK else {
            HostHeld.drop(box, host: handle)
            throw Failure(status: Int32(bitPattern: status.rawValue))
        }
    }

    private static let writeDone: carrier_write_callback = { userData, status, accepted, asked in
        ContinuationBox<(accepted: Int, asked: Int)>.finish(userData, status) { (Int(accepted), Int(asked)) }
    }

    /// Whether the host's table reaches `field` (one added in a later minor than the host's).
    private func hostHas<Field>(_ field: KeyPath<carrier_host_api_v1, Field>) -> Bool {
        guard let offset = MemoryLayout<carrier_host_api_v1>.offset(of: field) else { return false }
        return Int(api.pointee.struct_size) >= offset + MemoryLayout<Field>.size
    }

    /// Starts a callback-style host call with a continuation as its user data.
    private func callback<T>(_ start: (UnsafeMutableRawPointer) -> carrier_status) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, Error>) in
            let box = Unmanaged.passRetained(ContinuationBox(continuation))
            let status = start(box.toOpaque())
            if status != CARRIER_OK {
                box.release()
                continuation.resume(throwing: Failure(status: Int32(bitPattern: status.rawValue)))
            }
        }
    }

    /// The host reads fixed sizes (ids 32, nonces 24, signatures 64 bytes): a shorter buffer would
    /// be read past its end, so it is refused here.
    private static func require(_ bytes: [UInt8], _ size: Int) throws {
        guard bytes.count == size else { throw Failure(status: Int32(CARRIER_ERR_INVALID_ARGUMENT.rawValue)) }
    }

    private func check(_ status: carrier_status) throws {
        guard status == CARRIER_OK else { throw Failure(status: Int32(bitPattern: status.rawValue)) }
    }
}

/// A continuation carried through a C callback's user data.
final class ContinuationBox<T> {
    let continuation: CheckedContinuation<T, Error>
    init(_ continuation: CheckedContinuation<T, Error>) { self.continuation = continuation }

    /// In a callback: resumes with `result()` on CARRIER_OK, else with the failure, and frees the box.
    static func finish(_ userData: UnsafeMutableRawPointer?, _ status: carrier_status, _ result: () -> T) {
        guard let userData else { return }
        let continuation = Unmanaged<ContinuationBox<T>>.fromOpaque(userData).takeRetainedValue().continuation
        if status == CARRIER_OK { continuation.resume(returning: result()) } else {
            continuation.resume(throwing: CarrierHostAPI.Failure(status: Int32(bitPattern: status.rawValue)))
        }
    }
}

/// An event handler carried through the subscription's user data (held until the instance is
/// destroyed).
final class EventBox {
    let handler: (DHTStorageEvent) -> Void
    let host: OpaquePointer
    init(_ handler: @escaping (DHTStorageEvent) -> Void, host: OpaquePointer) {
        self.handler = handler
        self.host = host
    }
}

/// A closure carried through a timer's or a post's user data: held until it has run (once) or its
/// timer is cancelled, or at the latest until the instance is destroyed. (@unchecked: the host
/// runs the closure on the executor only.)
final class TaskBox: @unchecked Sendable {
    let task: () -> Void
    let repeating: Bool
    let host: OpaquePointer

    init(_ task: @escaping () -> Void, repeating: Bool, host: OpaquePointer) {
        self.task = task
        self.repeating = repeating
        self.host = host
    }

    static func run(_ userData: UnsafeMutableRawPointer?) {
        guard let userData else { return }
        // A strong reference for the run: the task may cancel its own timer, which lets go of the box.
        let box = Unmanaged<TaskBox>.fromOpaque(userData).takeUnretainedValue()
        withExtendedLifetime(box) { OnExecutor.run(box.host) { box.task() } }
        if !box.repeating { HostHeld.drop(box, host: box.host) }
    }
}

/// The objects whose addresses the host holds as user data, kept alive here per instance (its
/// `carrier_host *`) until they are used up, and let go of all at once when the instance is
/// destroyed: the host calls nothing of an instance after `destroy`.
enum HostHeld {
    private struct Held: @unchecked Sendable {
        let object: AnyObject
    }

    private struct Instance {
        var objects: [ObjectIdentifier: Held] = [:]
        var timers: [UInt64: ObjectIdentifier] = [:]
    }

    private static let instances = Mutex<[Int: Instance]>([:])

    /// Keeps `object` for `host`; returns the user-data pointer to hand to the host.
    static func keep(_ object: AnyObject, host: OpaquePointer) -> UnsafeMutableRawPointer {
        let held = Held(object: object)
        instances.withLock { $0[Int(bitPattern: host), default: Instance()].objects[ObjectIdentifier(object)] = held }
        return Unmanaged.passUnretained(object).toOpaque()
    }

    /// Records that a kept object belongs to `timer`.
    static func name(_ object: AnyObject, timer: UInt64, host: OpaquePointer) {
        let id = ObjectIdentifier(object)
        instances.withLock { $0[Int(bitPattern: host)]?.timers[timer] = id }
    }

    static func drop(_ object: AnyObject, host: OpaquePointer) {
        let id = ObjectIdentifier(object)
        _ = instances.withLock { $0[Int(bitPattern: host)]?.objects.removeValue(forKey: id) }
    }

    static func dropTimer(_ timer: UInt64, host: OpaquePointer) {
        _ = instances.withLock { instances -> Held? in
            guard let id = instances[Int(bitPattern: host)]?.timers.removeValue(forKey: timer) else { return nil }
            return instances[Int(bitPattern: host)]?.objects.removeValue(forKey: id)
        }
    }

    /// Lets go of everything kept for `host` (its instance was destroyed).
    static func dropAll(host: OpaquePointer) {
        _ = instances.withLock { $0.removeValue(forKey: Int(bitPattern: host)) }
    }
}
