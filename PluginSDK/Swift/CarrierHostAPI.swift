import CarrierPluginABI
import Synchronization

/// The host, as a Swift plugin sees it: the C host-API table and this instance's handle, with
/// Swift types and async/await over the callback calls. Use it from the plugin's methods (the
/// executor); `post` brings work from other threads back there.
public struct CarrierHostAPI: @unchecked Sendable {
    // @unchecked: the table and handle are the host's, valid for the instance's life, thread-safe.
    let api: UnsafePointer<carrier_host_api_v1>
    let handle: OpaquePointer

    init(api: UnsafePointer<carrier_host_api_v1>, handle: OpaquePointer) {
        self.api = api
        self.handle = handle
    }

    /// Log levels, as the host's.
    public enum LogLevel: UInt32, Sendable { case trace = 0, debug, info, notice, warning, error }

    /// A failed host call.
    public struct Failure: Error, CustomStringConvertible {
        public let status: Int32
        public var description: String { "host call failed with status \(status)" }
    }

    public func log(_ level: LogLevel, _ message: String) {
        api.pointee.log(handle, carrier_log_level(rawValue: level.rawValue), message)
    }

    /// The supernode's node id (32 bytes).
    public var nodeId: [UInt8] {
        var id = carrier_id()
        api.pointee.node_id(handle, &id)
        return withUnsafeBytes(of: id.bytes) { Array($0) }
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

    public func announceService(_ type: String, endpoint: String) throws { try check(api.pointee.announce_service(handle, type, endpoint)) }
    public func withdrawService(_ type: String) throws { try check(api.pointee.withdraw_service(handle, type)) }

    /// Runs `work` on the executor soon; from any thread (e.g. after an `await`, which resumes
    /// elsewhere). Returns false if the instance is stopping.
    @discardableResult
    public func post(_ work: @escaping @Sendable () -> Void) -> Bool {
        let box = Unmanaged.passRetained(TaskBox(work, repeating: false))
        guard api.pointee.post(handle, { TaskBox.run($0) }, box.toOpaque()) == CARRIER_OK else {
            box.release()
            return false
        }
        return true
    }

    /// Runs `task` on the executor after `delay` ms, then every `interval` ms (0: once). Returns its id.
    public func startTimer(delay: UInt64, interval: UInt64, _ task: @escaping () -> Void) throws -> UInt64 {
        let box = Unmanaged.passRetained(TaskBox(task, repeating: interval != 0))
        var timer: UInt64 = 0
        let status = api.pointee.timer_start(handle, delay, interval, { userData in
            TaskBox.run(userData)
        }, box.toOpaque(), &timer)
        guard status == CARRIER_OK else {
            box.release()
            throw Failure(status: Int32(bitPattern: status.rawValue))
        }
        if interval != 0 { TaskBox.repeating.withLock { $0[TaskBox.Key(host: Int(bitPattern: handle), timer: timer)] = box } }
        return timer
    }

    /// Cancels a timer and frees a repeating timer's closure. (Closures of timers the host cancels
    /// when the plugin stops, and of one-shot timers cancelled before they fire, are kept until the
    /// process ends: a few bytes each.)
    public func cancelTimer(_ timer: UInt64) {
        guard api.pointee.timer_cancel(handle, timer) == CARRIER_OK else { return }
        TaskBox.repeating.withLock { $0.removeValue(forKey: TaskBox.Key(host: Int(bitPattern: handle), timer: timer)) }?.release()
    }

    /// Signs `data` as a mutable value of the node key with `sequenceNumber` and stores it on the
    /// K closest nodes; returns (accepted, asked).
    public func storeSignedValue(sequenceNumber: Int32, data: [UInt8]) async throws -> (accepted: Int, asked: Int) {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<(accepted: Int, asked: Int), Error>) in
            let box = Unmanaged.passRetained(ContinuationBox(continuation))
            let status = api.pointee.store_signed_value(handle, sequenceNumber, data, data.count, { userData, status, accepted, asked in
                let continuation = Unmanaged<ContinuationBox<(accepted: Int, asked: Int)>>.fromOpaque(userData!).takeRetainedValue().continuation
                if status == CARRIER_OK { continuation.resume(returning: (Int(accepted), Int(asked))) } else {
                    continuation.resume(throwing: Failure(status: Int32(bitPattern: status.rawValue)))
                }
            }, box.toOpaque())
            if status != CARRIER_OK {
                box.release()
                continuation.resume(throwing: Failure(status: Int32(bitPattern: status.rawValue)))
            }
        }
    }

    /// The data of the value with `id` (32 bytes), or nil if the network has none.
    public func findValueData(_ id: [UInt8], cas: Int32 = -1) async throws -> [UInt8]? {
        var target = carrier_id()
        withUnsafeMutableBytes(of: &target.bytes) { $0.copyBytes(from: id.prefix(32)) }
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<[UInt8]?, Error>) in
            let box = Unmanaged.passRetained(ContinuationBox(continuation))
            let status = api.pointee.find_value(handle, &target, cas, { userData, status, value in
                let continuation = Unmanaged<ContinuationBox<[UInt8]?>>.fromOpaque(userData!).takeRetainedValue().continuation
                switch status {
                case CARRIER_OK: continuation.resume(returning: value.map { Array(UnsafeBufferPointer(start: $0.pointee.data, count: $0.pointee.data_length)) })
                case CARRIER_ERR_NOT_FOUND: continuation.resume(returning: nil)
                default: continuation.resume(throwing: Failure(status: Int32(bitPattern: status.rawValue)))
                }
            }, box.toOpaque())
            if status != CARRIER_OK {
                box.release()
                continuation.resume(throwing: Failure(status: Int32(bitPattern: status.rawValue)))
            }
        }
    }

    private func check(_ status: carrier_status) throws {
        guard status == CARRIER_OK else { throw Failure(status: Int32(bitPattern: status.rawValue)) }
    }
}

/// A continuation carried through a C callback's user data.
final class ContinuationBox<T> {
    let continuation: CheckedContinuation<T, Error>
    init(_ continuation: CheckedContinuation<T, Error>) { self.continuation = continuation }
}

/// A closure carried through a timer's user data; a one-shot timer frees it after running, a
/// repeating one when it is cancelled. (@unchecked: the host runs the closure on the executor only.)
final class TaskBox: @unchecked Sendable {
    /// A repeating timer: the instance's host handle and the timer id (ids are per instance).
    struct Key: Hashable {
        let host: Int
        let timer: UInt64
    }

    static let repeating = Mutex<[Key: Unmanaged<TaskBox>]>([:])

    let task: () -> Void
    let repeating: Bool
    init(_ task: @escaping () -> Void, repeating: Bool) {
        self.task = task
        self.repeating = repeating
    }

    static func run(_ userData: UnsafeMutableRawPointer?) {
        guard let userData else { return }
        let box = Unmanaged<TaskBox>.fromOpaque(userData)
        box.takeUnretainedValue().task()
        if !box.takeUnretainedValue().repeating { box.release() }
    }
}
