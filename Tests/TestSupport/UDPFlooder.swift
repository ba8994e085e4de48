import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// One UDP source sending as fast as one thread can (or at most `rate` datagrams a second), to
/// 127.0.0.1:`port`, for tests of what a flood does to a node's other clients. The datagrams are
/// 100 bytes of noise: they are dropped by the rate limit before anything opens them. Runs on its
/// own thread, off Swift's concurrency pool.
public final class UDPFlooder: Sendable {
    private let descriptor: Int32
    private let running = Atomic<Bool>(true)
    private let sent = Atomic<Int>(0)
    private let finished = Mutex(false)

    public init(port: Int, rate: Int? = nil) throws {
        descriptor = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard descriptor >= 0 else { throw RawTCPClient.Failure(description: "socket: \(errno)") }
        try IPv4Socket.attach(descriptor, .connect, address: "127.0.0.1", port: port)
        let thread = Thread { [self] in
            let payload = (0..<100).map { UInt8(truncatingIfNeeded: $0 &* 73 &+ 11) }
            var count = 0
            let clock = ContinuousClock(), started = clock.now
            while running.load(ordering: .relaxed) {
                for _ in 0..<256 where payload.withUnsafeBytes({ Glibc.send(descriptor, $0.baseAddress, $0.count, 0) }) > 0 { count += 1 }
                sent.store(count, ordering: .relaxed)
                // Paced: the next batch waits until the rate allows it.
                if let rate {
                    let due = started + .seconds(Double(count) / Double(rate))
                    while clock.now < due, running.load(ordering: .relaxed) { usleep(50) }
                }
            }
            finished.withLock { $0 = true }
        }
        thread.start()
    }

    /// Datagrams sent so far.
    public var count: Int { sent.load(ordering: .relaxed) }

    /// Stops the thread and closes the socket.
    public func stop() {
        running.store(false, ordering: .relaxed)
        while !finished.withLock({ $0 }) { usleep(1_000) }
        _ = Glibc.close(descriptor)
    }
}
