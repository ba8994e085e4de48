import CLinuxDiag
import Glibc

/// The messages of Linux's socket diagnostics (`NETLINK_SOCK_DIAG`) the host meters TCP sockets
/// by (a lookup and its answer, and the kernel's destroy notices), built and read at the kernel header's layout (the CLinuxDiag module). Hand-written because
/// no library here speaks sock_diag; `docs/decisions.md` says why the kernel is asked at all.
/// Reading is strict and bounded: a message that does not fit its datagram, or a socket
/// description shorter than `inet_diag_msg`, is a `SockDiagError`, never a guess.
enum SockDiagMessages {
    /// What the kernel says of one TCP socket.
    struct DiagnosedSocket: Sendable, Equatable {
        let cookie: UInt64
        let family: KernelSocket.Family
        /// The kernel's inode of the socket (0 for one no process holds any more).
        let inode: UInt32
        /// Its counters; nil when the message carries no `tcp_info` (a socket in TIME_WAIT).
        let counters: TCPCounters?
    }

    /// One message of an answer or a notice.
    enum Message: Sendable, Equatable {
        case socket(DiagnosedSocket)
        /// The end of a multi-part answer.
        case done
        /// NLMSG_ERROR: 0 acknowledges, else a negative errno (ENOENT: no such socket).
        case error(Int32)
        /// A message of another type (skipped).
        case other(UInt16)
    }

    static let headerSize = MemoryLayout<nlmsghdr>.size
    static let requestSize = headerSize + MemoryLayout<inet_diag_req_v2>.size
    static let socketMessageSize = MemoryLayout<inet_diag_msg>.size

    /// A request for the one socket `socket` names (its cookie and both ends), with its `tcp_info`.
    static func lookup(_ socket: KernelSocket, sequence: UInt32) -> [UInt8] {
        var request = inet_diag_req_v2()
        request.sdiag_family = UInt8(socket.family == .ipv4 ? AF_INET : AF_INET6)
        request.sdiag_protocol = UInt8(IPPROTO_TCP)
        request.idiag_ext = UInt8(1 << (INET_DIAG_INFO - 1))
        request.idiag_states = UInt32.max
        request.id.idiag_sport = socket.local.port.bigEndian
        request.id.idiag_dport = socket.remote.port.bigEndian
        withUnsafeMutableBytes(of: &request.id.idiag_src) { $0.copyBytes(from: socket.local.address) }
        withUnsafeMutableBytes(of: &request.id.idiag_dst) { $0.copyBytes(from: socket.remote.address) }
        request.id.idiag_cookie = (UInt32(truncatingIfNeeded: socket.cookie), UInt32(truncatingIfNeeded: socket.cookie >> 32))
        return message(request, flags: UInt16(NLM_F_REQUEST), sequence: sequence)
    }

    private static func message(_ request: inet_diag_req_v2, flags: UInt16, sequence: UInt32) -> [UInt8] {
        var header = nlmsghdr()
        header.nlmsg_len = UInt32(requestSize)
        header.nlmsg_type = UInt16(SOCK_DIAG_BY_FAMILY)
        header.nlmsg_flags = flags
        header.nlmsg_seq = sequence
        var request = request
        return withUnsafeBytes(of: &header) { Array($0) } + withUnsafeBytes(of: &request) { Array($0) }
    }

    /// The messages of one datagram from the kernel, each with its sequence number.
    static func messages(in datagram: [UInt8]) throws(SockDiagError) -> [(sequence: UInt32, message: Message)] {
        var messages: [(UInt32, Message)] = []
        var offset = 0
        while offset < datagram.count {
            guard datagram.count - offset >= headerSize else { throw SockDiagError("a netlink header cut short at byte \(offset)") }
            let header = datagram.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: nlmsghdr.self) }
            let length = Int(header.nlmsg_len)
            guard length >= headerSize, length <= datagram.count - offset else {
                throw SockDiagError("a netlink message of \(length) bytes at byte \(offset) of a \(datagram.count)-byte datagram")
            }
            let body = datagram[(offset + headerSize)..<(offset + length)]
            messages.append((header.nlmsg_seq, try message(type: header.nlmsg_type, body: Array(body))))
            offset += (length + 3) & ~3
        }
        return messages
    }

    private static func message(type: UInt16, body: [UInt8]) throws(SockDiagError) -> Message {
        switch Int32(type) {
        case NLMSG_DONE: return .done
        case NLMSG_ERROR:
            guard body.count >= 4 else { throw SockDiagError("an NLMSG_ERROR of \(body.count) bytes") }
            return .error(body.withUnsafeBytes { $0.loadUnaligned(as: Int32.self) })
        case Int32(SOCK_DIAG_BY_FAMILY): return .socket(try socket(body))
        default: return .other(type)
        }
    }

    /// One `inet_diag_msg` and its attributes, of which only INET_DIAG_INFO is read.
    private static func socket(_ body: [UInt8]) throws(SockDiagError) -> DiagnosedSocket {
        guard body.count >= socketMessageSize else { throw SockDiagError("a socket description of \(body.count) bytes (\(socketMessageSize) at least)") }
        let described = body.withUnsafeBytes { $0.loadUnaligned(as: inet_diag_msg.self) }
        let family: KernelSocket.Family
        switch Int32(described.idiag_family) {
        case AF_INET: family = .ipv4
        case AF_INET6: family = .ipv6
        default: throw SockDiagError("a socket of address family \(described.idiag_family)")
        }
        let cookie = UInt64(described.id.idiag_cookie.1) << 32 | UInt64(described.id.idiag_cookie.0)
        var counters: TCPCounters?
        var offset = socketMessageSize
        while body.count - offset >= 4 {
            let (length, type) = body.withUnsafeBytes { ($0.loadUnaligned(fromByteOffset: offset, as: UInt16.self),
                                                         $0.loadUnaligned(fromByteOffset: offset + 2, as: UInt16.self)) }
            guard length >= 4, Int(length) <= body.count - offset else {
                throw SockDiagError("an attribute of \(length) bytes at byte \(offset) of a \(body.count)-byte socket description")
            }
            if Int32(type) == INET_DIAG_INFO { counters = try TCPCounters(tcpInfo: Array(body[(offset + 4)..<(offset + Int(length))])) }
            offset += (Int(length) + 3) & ~3
        }
        return DiagnosedSocket(cookie: cookie, family: family, inode: described.idiag_inode, counters: counters)
    }
}

/// The kernel's byte counts of one TCP socket, from its `tcp_info`.
struct TCPCounters: Sendable, Equatable {
    /// Bytes received, as sequence space: a FIN that arrived while the socket was open counts one.
    var received: UInt64
    /// Bytes sent, each once (the kernel's bytes sent less its retransmissions).
    var sentOnce: UInt64

    /// What the host bills: both ways together.
    var total: UInt64 { received &+ sentOnce }

    init(received: UInt64, sentOnce: UInt64) {
        self.received = received
        self.sentOnce = sentOnce
    }

    /// Where `struct tcp_info` (linux/tcp.h, whose fields are only ever appended) holds
    /// `tcpi_bytes_received`, `tcpi_bytes_sent` and `tcpi_bytes_retrans`, each a 64-bit count;
    /// `SocketMeterTests` checks them against the installed header.
    static let receivedOffset = 128, sentOffset = 200, retransmittedOffset = 208

    /// From the INET_DIAG_INFO attribute; a `tcp_info` too short to hold the counters (a kernel
    /// before 4.19) is an error.
    init(tcpInfo: [UInt8]) throws(SockDiagError) {
        let needed = Self.retransmittedOffset + 8
        guard tcpInfo.count >= needed else {
            throw SockDiagError("a tcp_info of \(tcpInfo.count) bytes has no count of bytes sent (a kernel before 4.19; \(needed) bytes needed)")
        }
        func counter(_ offset: Int) -> UInt64 { tcpInfo.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: UInt64.self) } }
        let sent = counter(Self.sentOffset), retransmitted = counter(Self.retransmittedOffset)
        self.init(received: counter(Self.receivedOffset), sentOnce: sent >= retransmitted ? sent - retransmitted : 0)
    }
}

/// A sock_diag message that could not be read, or a netlink socket that failed.
struct SockDiagError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
