import CarrierCore
import CarrierPluginABI
import Foundation
import Glibc
import Logging
import Synchronization

/// Bills the bytes of the TCP sockets plugins hand the host (ABI 1.6 `count_tcp_socket`) from the
/// kernel's own counts, so that a bill for relayed bytes never rests on the plugin's word.
///
/// Threads: `count` runs on the caller's thread (a plugin's, or the runner call's) and asks the
/// kernel once, on a netlink socket of its own, so counts from many threads do not wait for each
/// other. One thread of the meter's, started with the first socket, reads the kernel's destroy
/// notices (each socket's last counts) and, every `pollInterval`, asks the kernel again for each
/// socket still counted, so long connections are billed as they go. Charges go to
/// `BillingAccounts.report` as a plugin's `report_usage` does. `CountedSockets` holds the state;
/// this is its I/O shell.
public final class SocketMeter: Sendable {
    /// What `count` answered.
    public enum Outcome: Sendable, Equatable {
        /// The host counts the socket's bytes from now until it is destroyed.
        case counting
        /// The kernel has no such TCP socket open (closed already, or never this plugin's).
        case notFound
        /// The socket is counted already.
        case alreadyCounted
        /// The kernel answered after the caller's deadline: not counted (the caller gave up).
        case tooLate
        /// This host cannot ask its kernel now; the reason is logged.
        case unsupported(String)

        /// The ABI's status for it.
        var status: carrier_status {
            switch self {
            case .counting: CARRIER_OK
            case .notFound: CARRIER_ERR_NOT_FOUND
            case .alreadyCounted: CARRIER_ERR_CONFLICT
            case .tooLate: CARRIER_ERR_TIMEOUT
            case .unsupported: CARRIER_ERR_UNSUPPORTED
            }
        }
    }

    private struct Lifecycle {
        var started = false
        var stopping = false
        /// Why the notices could not be subscribed to, and when: tried again a minute later.
        var failure: (reason: String, at: ContinuousClock.Instant)?
    }

    /// The notice socket's buffer: 4 MiB of destroy notices (about 10,000) between two reads.
    static let noticeBuffer: Int32 = 4 << 20

    private let billing: BillingAccounts
    private let metrics: PluginMetrics
    private let pollInterval: Duration
    private let logger: Logger
    private let sockets = Mutex(CountedSockets())
    private let lifecycle = Mutex(Lifecycle())
    private let finished = DispatchSemaphore(value: 0)

    public init(billing: BillingAccounts, metrics: PluginMetrics, pollInterval: Duration = .seconds(5),
                logger: Logger = Logger(label: "carrier.metering")) {
        self.billing = billing
        self.metrics = metrics
        self.pollInterval = pollInterval
        self.logger = logger
    }

    /// What has happened to the sockets counted so far, and how many are counted now.
    public var totals: (counting: Int, counted: Int, refused: Int, ended: Int, lost: Int, bytes: UInt64) {
        sockets.withLock { ($0.count, $0.totals.counted, $0.totals.refused, $0.totals.ended, $0.totals.lost, $0.totals.bytes) }
    }

    /// The time `count`'s deadlines are in: CLOCK_MONOTONIC nanoseconds, the same in every process
    /// of the machine (a runner's and its host's).
    static func monotonicNanoseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }

    /// Counts `socket`'s bytes, both ways, for `client` under `meter` of `plugin`'s plans
    /// (`section`), from the socket's first byte until it is destroyed; not when the kernel's
    /// answer comes after `deadline` (`monotonicNanoseconds`), when the caller has stopped waiting.
    func count(_ socket: KernelSocket, plugin: String, client: Id, meter: String, section: BillingSection,
               before deadline: UInt64 = .max) -> Outcome {
        if let reason = startIfNeeded() { return .unsupported(reason) }
        let owner = CountedSockets.Owner(plugin: plugin, client: client, meter: meter, section: section)
        guard sockets.withLock({ $0.claim(socket, owner: owner) }) else { return .alreadyCounted }
        let found: TCPCounters?
        do {
            found = try Self.lookup(socket, on: NetlinkSocket())
        } catch {
            sockets.withLock { $0.abandon(socket.cookie) }
            logger.warning("the kernel could not be asked for a socket; not counted", metadata: ["socket": "\(socket)", "error": "\(error)"])
            return .unsupported(error.description)
        }
        guard Self.monotonicNanoseconds() < deadline else {
            sockets.withLock { $0.abandon(socket.cookie) }
            return .tooLate
        }
        let (counting, charges) = sockets.withLock { $0.looked(up: socket.cookie, found: found) }
        bill(charges)
        return counting ? .counting : .notFound
    }

    /// Stops counting, after a last reading: the notices queued (at most half a second of them),
    /// then one more question for each socket still counted, then up to a second more for the
    /// notices of the sockets that question found gone. Sockets handed over later are not
    /// counted (`count` answers `.unsupported`).
    public func stop() async {
        let started = lifecycle.withLock { lifecycle -> Bool in
            lifecycle.stopping = true
            return lifecycle.started
        }
        guard started else { return }
        let finished = self.finished
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            DispatchQueue.global().async {
                // Signalled once by the thread; passed on so that every caller of `stop` returns.
                _ = finished.wait(timeout: .now() + 5)
                finished.signal()
                done.resume()
            }
        }
    }

    // MARK: The kernel

    /// Subscribes to the destroy notices and starts the meter's thread, once; the reason when it
    /// cannot (tried again a minute after a failure), or when the meter is stopping.
    private func startIfNeeded() -> String? {
        lifecycle.withLock { lifecycle -> String? in
            if lifecycle.stopping { return "the host is stopping" }
            if lifecycle.started { return nil }
            if let failure = lifecycle.failure, ContinuousClock.now - failure.at < .seconds(60) { return failure.reason }
            do throws(SockDiagError) {
                // Subscribed before the first lookup, so that no destroy after it is missed.
                let notices = try NetlinkSocket(groups: NetlinkSocket.destroyGroups, receiveBuffer: Self.noticeBuffer, datagramCapacity: 65_536)
                let poller = try NetlinkSocket()
                if notices.receiveBufferSize < Int(Self.noticeBuffer) {
                    logger.notice("socket notices get a smaller buffer than asked (raise net.core.rmem_max, or run as root)",
                                  metadata: ["bytes": "\(notices.receiveBufferSize)", "asked": "\(Self.noticeBuffer)"])
                }
                lifecycle.started = true
                lifecycle.failure = nil
                let thread = Thread { [self] in run(notices: notices, poller: poller) }
                thread.name = "carrier-socket-meter"
                thread.start()
                return nil
            } catch {
                lifecycle.failure = (error.description, .now)
                logger.error("the host cannot count socket bytes itself; plugins bill them by their own reports", metadata: ["error": "\(error)"])
                return error.description
            }
        }
    }

    /// The kernel's counters of `socket`; nil when it has no such socket open (ENOENT, or one in
    /// TIME_WAIT, which has no counters). Any other answer is an error.
    private static func lookup(_ socket: KernelSocket, on netlink: NetlinkSocket) throws(SockDiagError) -> TCPCounters? {
        let sequence = netlink.nextSequence()
        try netlink.send(SockDiagMessages.lookup(socket, sequence: sequence))
        let deadline = ContinuousClock.now + .seconds(1)
        while let datagram = try netlink.receive(timeout: deadline - .now) {
            for (answered, message) in try SockDiagMessages.messages(in: datagram) where answered == sequence {
                switch message {
                case .socket(let found) where found.cookie == socket.cookie: return found.counters
                case .error(let code) where code == -ENOENT: return nil
                case .error(let code) where code != 0: throw SockDiagError("the kernel refused the lookup: \(String(cString: strerror(-code)))")
                case .done: return nil
                default: continue
                }
            }
        }
        throw SockDiagError("the kernel did not answer within a second")
    }

    /// The meter's thread: destroy notices as they come, a poll every `pollInterval`, until `stop`.
    private func run(notices: NetlinkSocket, poller: NetlinkSocket) {
        var nextPoll = ContinuousClock.now + pollInterval
        while !lifecycle.withLock({ $0.stopping }) {
            read(notices, waiting: min(.milliseconds(200), nextPoll - .now), for: .milliseconds(100))
            if ContinuousClock.now >= nextPoll {
                poll(on: poller)
                nextPoll = ContinuousClock.now + pollInterval
            }
        }
        // The last reading: what the sockets closed at the plugins' stop left in the queue, then
        // the sockets still counted, then what the kernel queued meanwhile, waiting up to a second
        // more for the notices of sockets the poll found gone (one in TIME_WAIT has no counters,
        // and its notice can come late on a loaded machine).
        read(notices, waiting: .zero, for: .milliseconds(500))
        poll(on: poller)
        read(notices, waiting: .zero, for: .milliseconds(100))
        let patience = ContinuousClock.now + .seconds(1)
        while sockets.withLock({ $0.awaitsNotices }), ContinuousClock.now < patience {
            read(notices, waiting: .milliseconds(50), for: .milliseconds(100))
        }
        sockets.withLock { $0.forgetAll() }
        finished.signal()
    }

    /// Reads destroy notices: waits up to `waiting` for the first, then takes what is queued, for
    /// at most `limit`; bills what the counted ones among them add.
    private func read(_ notices: NetlinkSocket, waiting: Duration, for limit: Duration) {
        let until = ContinuousClock.now + limit
        var destroyed: [SockDiagMessages.DiagnosedSocket] = []
        do {
            var wait = waiting
            while ContinuousClock.now < until, let datagram = try notices.receive(timeout: wait) {
                for (_, message) in try SockDiagMessages.messages(in: datagram) {
                    if case .socket(let socket) = message { destroyed.append(socket) }
                }
                wait = .zero
            }
        } catch {
            // An overrun lost notices: the polls settle their sockets (counted as lost).
            logger.warning("socket notices unread", metadata: ["error": "\(error)"])
        }
        guard !destroyed.isEmpty else { return }
        bill(sockets.withLock { sockets in destroyed.flatMap { sockets.destroyed($0.cookie, counters: $0.counters) } })
    }

    /// Asks the kernel for each socket still counted, and bills what each added.
    private func poll(on poller: NetlinkSocket) {
        for socket in sockets.withLock({ $0.confirmed }) {
            let found: TCPCounters?
            do {
                found = try Self.lookup(socket, on: poller)
            } catch {
                logger.warning("a counted socket could not be polled", metadata: ["socket": "\(socket)", "error": "\(error)"])
                continue
            }
            bill(sockets.withLock { $0.polled(socket.cookie, found: found) })
        }
    }

    private func bill(_ charges: [CountedSockets.Charge]) {
        for charge in charges {
            billing.report(client: charge.owner.client, plugin: charge.owner.plugin, section: charge.owner.section, meter: charge.owner.meter,
                           amount: charge.bytes)
            metrics.addUsage(plugin: charge.owner.plugin, meter: charge.owner.meter, Double(charge.bytes))
        }
    }
}
