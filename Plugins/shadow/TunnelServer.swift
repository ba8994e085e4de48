import CarrierCore
import CarrierShadow
import NIOCore
import NIOPosix

/// The tunnel port clients dial: every connection handshakes (`ServerHandshakeHandler`, signed
/// with the node key on `signing`'s threads), then a `TunnelConnectionHandler` serves it.
enum TunnelServer {
    static func bind(host: String, port: Int, node: Id, relay: ShadowRelay, signing: NIOThreadPool,
                     sign: @escaping ServerHandshakeHandler.Signer, count: @escaping @Sendable (String) -> Void) -> EventLoopFuture<Channel> {
        relay.openChannels.track(bound: ServerBootstrap(group: relay.group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 256)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                guard relay.openChannels.track(channel) else { return channel.eventLoop.makeSucceededVoidFuture() }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([
                        ServerHandshakeHandler(server: node, signing: signing, sign: sign),
                        TunnelConnectionHandler(relay: relay, count: count),
                    ])
                }
            }
            .bind(host: host, port: port))
    }
}
