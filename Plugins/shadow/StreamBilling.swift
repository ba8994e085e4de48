import CarrierCore
import CarrierPluginSDK
import Glibc
import NIOCore
import NIOPosix
import Synchronization

/// Who bills one public TCP connection's bytes: the host, from the kernel's count of the public
/// socket (ABI 1.6 `count_tcp_socket`), or, when the host cannot count it, the plugin, from what
/// each side of the relay read. The question goes to the host as the connection is accepted, off
/// the event loop; a side that ends before the answer keeps its bytes until the answer says
/// whether to report them. The connection's seconds are always the plugin's to report.
final class StreamBilling: Sendable {
    private enum Counter {
        /// The host has not answered yet: the bytes of the sides that ended so far.
        case asking(unreported: Int)
        case host
        case plugin
    }

    private let counter = Mutex(Counter.asking(unreported: 0))
    private let report: @Sendable (_ bytes: Int, _ seconds: Int) -> Void

    /// `report` bills the plugin's count of bytes and the connection's seconds.
    init(report: @escaping @Sendable (_ bytes: Int, _ seconds: Int) -> Void) {
        self.report = report
    }

    /// Asks the host (`countSocket`, on `hostCalls`' threads) to count `channel`'s bytes, a
    /// connected public TCP connection, by its `SO_COOKIE` and its two ends.
    func ask(_ channel: Channel, hostCalls: NIOThreadPool, countSocket: @escaping @Sendable (TCPSocketName) -> Bool) {
        guard let options = channel as? SocketOptionProvider else { return answered(hostCounts: false) }
        let cookie: EventLoopFuture<UInt64> = options.unsafeGetSocketOption(level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(SO_COOKIE))
        cookie.flatMap { cookie -> EventLoopFuture<Bool> in
            guard let name = Self.name(cookie: cookie, local: channel.localAddress, remote: channel.remoteAddress) else {
                return channel.eventLoop.makeSucceededFuture(false)
            }
            return hostCalls.runIfActive(eventLoop: channel.eventLoop) { countSocket(name) }
        }.whenComplete { result in
            self.answered(hostCounts: (try? result.get()) ?? false)
        }
    }

    /// One side of the relay ended, having read `bytes`; the public side also says the
    /// connection's `seconds`.
    func ended(bytes: Int, seconds: Int = 0) {
        let reported = counter.withLock { counter -> Int? in
            switch counter {
            case .asking(let unreported):
                counter = .asking(unreported: unreported + bytes)
                return nil
            case .host: return 0
            case .plugin: return bytes
            }
        }
        if let reported { report(reported, seconds) } else if seconds > 0 { report(0, seconds) }
    }

    private func answered(hostCounts: Bool) {
        let unreported = counter.withLock { counter -> Int in
            defer { counter = hostCounts ? .host : .plugin }
            guard case .asking(let unreported) = counter else { return 0 }
            return unreported
        }
        if !hostCounts, unreported > 0 { report(unreported, 0) }
    }

    /// The kernel's name of a TCP socket with these ends; nil when they are not both IPv4 or both IPv6.
    private static func name(cookie: UInt64, local: SocketAddress?, remote: SocketAddress?) -> TCPSocketName? {
        func end(_ address: SocketAddress?) -> (address: [UInt8], port: UInt16)? {
            switch address {
            case .v4(let v4)?:
                return (withUnsafeBytes(of: v4.address.sin_addr) { Array($0) }, UInt16(bigEndian: v4.address.sin_port))
            case .v6(let v6)?:
                return (withUnsafeBytes(of: v6.address.sin6_addr) { Array($0) }, UInt16(bigEndian: v6.address.sin6_port))
            default: return nil
            }
        }
        guard let local = end(local), let remote = end(remote) else { return nil }
        return TCPSocketName(cookie: cookie, local: local, remote: remote)
    }
}
