import CarrierCore
import NIOCore
import NIOPosix

/// A bound UDP socket (SwiftNIO): datagrams in as an async sequence, datagrams out to any address.
public final class UDPTransport: Sendable {
    /// One received datagram.
    public struct Datagram: Sendable {
        public let bytes: [UInt8]
        public let sender: Endpoint
    }

    /// The address and port the socket is bound to.
    public let localEndpoint: Endpoint
    private let channel: NIOAsyncChannel<AddressedEnvelope<ByteBuffer>, AddressedEnvelope<ByteBuffer>>

    /// Binds `endpoint` (port 0 picks a free port).
    public init(binding endpoint: Endpoint, group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws {
        channel = try await DatagramBootstrap(group: group)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .channelOption(.socketOption(.so_rcvbuf), value: 4 << 20)
            .bind(host: endpoint.address.description, port: Int(endpoint.port)) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<AddressedEnvelope<ByteBuffer>, AddressedEnvelope<ByteBuffer>>(wrappingChannelSynchronously: channel)
                }
            }
        guard let local = channel.channel.localAddress, let bound = Endpoint(local) else {
            throw TransportError("cannot read the bound address of \(endpoint)")
        }
        localEndpoint = bound
    }

    /// Calls `handle` for each datagram until the socket is closed (then closes it).
    public func receive(_ handle: (Datagram) async -> Void) async throws {
        try await channel.executeThenClose { inbound, _ in
            for try await envelope in inbound {
                guard let sender = Endpoint(envelope.remoteAddress) else { continue }
                await handle(Datagram(bytes: Array(envelope.data.readableBytesView), sender: sender))
            }
        }
    }

    /// Sends `bytes` to `endpoint`; a send failure (unreachable network, full buffer) drops it, as UDP does.
    public func send(_ bytes: [UInt8], to endpoint: Endpoint) {
        guard let address = try? endpoint.socketAddress else { return }
        let envelope = AddressedEnvelope(remoteAddress: address, data: channel.channel.allocator.buffer(bytes: bytes))
        channel.channel.writeAndFlush(envelope, promise: nil)
    }

    /// Closes the socket; `receive` returns.
    public func close() async {
        try? await channel.channel.close()
    }
}

/// An IP address and UDP port.
public struct Endpoint: Hashable, Sendable, CustomStringConvertible {
    public let address: IPAddress
    public let port: UInt16

    public init(address: IPAddress, port: UInt16) {
        self.address = address
        self.port = port
    }

    /// Parses `HOST:PORT` or `[IPv6]:PORT` (a numeric address; names are not resolved).
    public init?(_ text: String) {
        let host: Substring, port: Substring
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { return nil }
            port = rest.dropFirst()
        } else {
            guard let colon = text.lastIndex(of: ":") else { return nil }
            host = text[..<colon]
            port = text[text.index(after: colon)...]
        }
        guard let address = IPAddress(String(host)), let number = UInt16(port) else { return nil }
        self.init(address: address, port: number)
    }

    init?(_ socketAddress: SocketAddress) {
        guard let text = socketAddress.ipAddress, let address = IPAddress(text), let port = socketAddress.port,
              let number = UInt16(exactly: port) else { return nil }
        self.init(address: address, port: number)
    }

    var socketAddress: SocketAddress {
        get throws { try SocketAddress(ipAddress: address.description, port: Int(port)) }
    }

    public var family: AddressFamily { address.isIPv4 ? .ipv4 : .ipv6 }

    public var description: String { address.isIPv4 ? "\(address):\(port)" : "[\(address)]:\(port)" }
}

/// A socket could not be opened or used.
public struct TransportError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
