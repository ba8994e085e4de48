import CLinuxDiag
import CarrierCore
import Glibc

/// A `NETLINK_SOCK_DIAG` socket: requests and their answers, or, bound to the destroy groups, a
/// notice from the kernel each time a TCP socket of the network namespace is destroyed, with its
/// last counters. Not thread-safe: one owner at a time (`SocketMeter` keeps each under a lock or on
/// its one thread); it is Sendable only to be handed to the thread that owns it from then on.
final class NetlinkSocket: @unchecked Sendable {
    private let descriptor: Int32
    /// The datagram buffer, larger than any datagram this socket is sent: one socket's description
    /// is under 400 bytes, a burst of notices may come in one read.
    private var buffer: [UInt8]
    private var sequence: UInt32 = 0

    /// The multicast groups of TCP socket destruction, IPv4 and IPv6.
    static let destroyGroups = UInt32(1 << (SKNLGRP_INET_TCP_DESTROY.rawValue - 1) | 1 << (SKNLGRP_INET6_TCP_DESTROY.rawValue - 1))

    /// A socket for requests (`groups` 0) or for the notices of `groups`, with a receive buffer of
    /// `receiveBuffer` bytes for a burst of notices, reading datagrams of up to `datagramCapacity`
    /// bytes (a lookup's answer is one socket's description: a socket per lookup needs little).
    init(groups: UInt32 = 0, receiveBuffer: Int32 = 0, datagramCapacity: Int = 4_096) throws(SockDiagError) {
        buffer = [UInt8](repeating: 0, count: datagramCapacity)
        descriptor = socket(AF_NETLINK, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), NETLINK_SOCK_DIAG)
        guard descriptor >= 0 else { throw SockDiagError("cannot open a sock_diag socket: \(Self.lastError)") }
        if receiveBuffer > 0 {
            // Past net.core.rmem_max only with CAP_NET_ADMIN (SO_RCVBUFFORCE); else up to it.
            var size = receiveBuffer
            if setsockopt(descriptor, SOL_SOCKET, SO_RCVBUFFORCE, &size, socklen_t(MemoryLayout<Int32>.size)) != 0 {
                _ = setsockopt(descriptor, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
            }
        }
        var address = sockaddr_nl()
        address.nl_family = sa_family_t(AF_NETLINK)
        address.nl_groups = groups
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_nl>.size)) }
        }
        // A throw from here on still runs `deinit` (every property is set), which closes the socket.
        guard bound == 0 else {
            throw SockDiagError("cannot bind a sock_diag socket\(groups == 0 ? "" : " to the TCP destroy notices"): \(Self.lastError)")
        }
    }

    deinit {
        if descriptor >= 0 { close(descriptor) }
    }

    /// The bytes of notices the kernel keeps for this socket (what it granted of `receiveBuffer`).
    var receiveBufferSize: Int {
        var size: Int32 = 0, length = socklen_t(MemoryLayout<Int32>.size)
        _ = getsockopt(descriptor, SOL_SOCKET, SO_RCVBUF, &size, &length)
        return Int(size)
    }

    /// A sequence number for the next request, to tell its answer from a late one to an earlier request.
    func nextSequence() -> UInt32 {
        sequence &+= 1
        return sequence
    }

    /// Sends one request to the kernel.
    func send(_ request: [UInt8]) throws(SockDiagError) {
        let sent = request.withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, 0) }
        guard sent == request.count else { throw SockDiagError("cannot ask the kernel (sock_diag): \(Self.lastError)") }
    }

    /// The next datagram, waiting at most `timeout`; nil when none came. A datagram larger than
    /// the buffer is an error, and so is `ENOBUFS`: the kernel dropped notices the socket had no
    /// room for (`SockDiagError.overrun`).
    func receive(timeout: Duration) throws(SockDiagError) -> [UInt8]? {
        var ready = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        // Never negative: poll(2) waits forever for a negative timeout.
        let milliseconds = max(0, Int32(clamping: timeout.milliseconds))
        let polled = poll(&ready, 1, milliseconds)
        if polled == 0 { return nil }
        guard polled > 0 else {
            if errno == EINTR { return nil }
            throw SockDiagError("cannot wait for the kernel (sock_diag): \(Self.lastError)")
        }
        let received = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, Int32(MSG_TRUNC) | Int32(MSG_DONTWAIT)) }
        guard received >= 0 else {
            if errno == EAGAIN || errno == EINTR { return nil }
            if errno == ENOBUFS { throw SockDiagError.overrun }
            throw SockDiagError("cannot read from the kernel (sock_diag): \(Self.lastError)")
        }
        guard received <= buffer.count else { throw SockDiagError("a sock_diag datagram of \(received) bytes (\(buffer.count) at most)") }
        return Array(buffer[..<received])
    }

    private static var lastError: String { String(cString: strerror(errno)) }
}

extension SockDiagError {
    /// The notice socket overflowed: the kernel dropped some notices.
    static let overrun = SockDiagError("the kernel dropped socket notices (ENOBUFS)")

    var isOverrun: Bool { description == Self.overrun.description }
}
