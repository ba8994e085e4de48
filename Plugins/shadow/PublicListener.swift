import NIOCore
import NIOPosix

/// A mapping's public TCP port. Its connections are not read until their stream is attached
/// (`autoRead` off), and may half-close (each direction of a stream ends on its own).
enum PublicListener {
    static func bind(host: String, port: Int, group: EventLoopGroup, tracking open: OpenChannels,
                     accepted: @escaping @Sendable (Channel) -> Void) -> EventLoopFuture<Channel> {
        open.track(bound: ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 256)
            .childChannelOption(.autoRead, value: false)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                if open.track(channel) { accepted(channel) }
                return channel.eventLoop.makeSucceededVoidFuture()
            }
            .bind(host: host, port: port))
    }
}
