import CarrierPluginABI

/// A connected TCP socket as the kernel names it, for `CarrierHostAPI.countTCPSocket` (ABI 1.6):
/// its `SO_COOKIE` and its two ends, as the plugin reads them off its own socket.
///
/// ```swift
/// // On accept, for a socket whose cookie the plugin read with getsockopt(SO_COOKIE):
/// guard let name = TCPSocketName(cookie: cookie, local: ([127, 0, 0, 1], 40000), remote: ([127, 0, 0, 1], 51234)) else { return }
/// let hostCounts = try host.countTCPSocket(name, client: client, meter: "bytes_relayed")
/// // When it closes, only if !hostCounts: try host.reportUsage(client: client, meter: "bytes_relayed", amount: bytes)
/// ```
public struct TCPSocketName: Sendable, Equatable {
    public let cookie: UInt64
    /// 4-byte (IPv4) or 16-byte (IPv6) addresses in network byte order, with their ports.
    public let local: (address: [UInt8], port: UInt16)
    public let remote: (address: [UInt8], port: UInt16)

    /// Nil unless both addresses are 4 bytes or both 16.
    public init?(cookie: UInt64, local: (address: [UInt8], port: UInt16), remote: (address: [UInt8], port: UInt16)) {
        guard local.address.count == remote.address.count, [4, 16].contains(local.address.count) else { return nil }
        self.cookie = cookie
        self.local = local
        self.remote = remote
    }

    public static func == (left: TCPSocketName, right: TCPSocketName) -> Bool {
        left.cookie == right.cookie && left.local == right.local && right.remote == left.remote
    }

    /// The ABI's form.
    var carrier: carrier_tcp_socket {
        var socket = carrier_tcp_socket()
        socket.cookie = cookie
        socket.family = local.address.count == 4 ? 4 : 6
        socket.local_port = local.port
        socket.remote_port = remote.port
        withUnsafeMutableBytes(of: &socket.local_address) { $0.copyBytes(from: local.address) }
        withUnsafeMutableBytes(of: &socket.remote_address) { $0.copyBytes(from: remote.address) }
        return socket
    }
}
