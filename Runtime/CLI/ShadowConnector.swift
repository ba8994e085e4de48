import CarrierCore
import CarrierDHT
import CarrierShadow
import NIOCore
import NIOPosix

/// `carrier shadow connect`: a local port whose connections are forwarded to an exposed service,
/// found by its node's id (and mapping name) on the DHT. The endpoint is looked up again when a
/// connection to it fails (the service may have moved to another supernode).
final class ShadowConnector: Sendable {
    private let node: DHTNode
    private let peer: Id
    private let name: String
    private let endpoint = Synchronization.Mutex<(host: String, port: Int)?>(nil)

    init(node: DHTNode, peer: Id, name: String) {
        self.node = node
        self.peer = peer
        self.name = name
    }

    /// The newest endpoint `peer` announced for mapping `name`: a peer record signed by the
    /// exposing node whose `extra` names the mapping.
    func resolve() async throws -> (host: String, port: Int) {
        let records: [PeerInfo]
        switch await node.searchPeers(peer, count: 16) {
        case .found(let found): records = found
        case .notFound: throw CommandFailure("\(peer.base58) announces no exposed service", exitCode: DHTCommand.Exit.notFound)
        case .unreachable: throw CommandFailure("no DHT node could be reached to look up \(peer.base58)", exitCode: DHTCommand.Exit.unreachable)
        }
        let named = records.filter { Self.mappingName(of: $0) == name }.max { $0.sequenceNumber < $1.sequenceNumber }
        guard let record = named else {
            throw CommandFailure("\(peer.base58) exposes no service named \(name) (it announces: "
                                 + records.compactMap(Self.mappingName(of:)).joined(separator: ", ") + ")", exitCode: DHTCommand.Exit.notFound)
        }
        if record.endpoint.hasPrefix("udp://") {
            throw CommandFailure("\(peer.base58)'s \(name) is a UDP service at \(record.endpoint): send datagrams there directly "
                                 + "(connect forwards TCP connections only)")
        }
        guard record.endpoint.hasPrefix("tcp://"), let target = ShadowService(name: name, target: record.endpoint) else {
            throw CommandFailure("\(peer.base58)'s record for \(name) has endpoint \(record.endpoint), not tcp://HOST:PORT")
        }
        let resolved = (target.targetHost, target.targetPort)
        endpoint.withLock { $0 = resolved }
        return resolved
    }

    /// The `name` in a Shadow peer record's `extra`, or nil.
    static func mappingName(of record: PeerInfo) -> String? {
        guard let extra = record.extra, case .map(let entries)? = try? CBORDecoder.decode(extra),
              case .text(let name)? = entries.first(where: { $0.key == "name" })?.value else { return nil }
        return name
    }

    /// Listens on `host:port`; each connection is forwarded to the endpoint.
    func listen(host: String, port: Int) async throws -> Channel {
        try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.autoRead, value: false)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let local = PlainRelayHandler(plainPartner: true)
                    try channel.pipeline.syncOperations.addHandler(local)
                    let bound = NIOLoopBound(local, eventLoop: channel.eventLoop)
                    Task { await self.forward(channel, bound) }
                }
            }
            .bind(host: host, port: port).get()
    }

    private func forward(_ local: Channel, _ handler: NIOLoopBound<PlainRelayHandler>) async {
        for attempt in 0..<2 {
            let target: (host: String, port: Int)
            do {
                if attempt == 0, let known = endpoint.withLock({ $0 }) { target = known } else { target = try await resolve() }
            } catch {
                Console.progress("\(error)")
                break
            }
            let remote = try? await ClientBootstrap(group: local.eventLoop)
                .connectTimeout(.seconds(10))
                .channelOption(.allowRemoteHalfClosure, value: true)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(PlainRelayHandler(plainPartner: true)) }
                }
                .connect(host: target.host, port: target.port).get()
            guard let remote else {
                Console.progress("cannot reach \(target.host):\(target.port); looking \(peer.base58) up again")
                continue
            }
            local.eventLoop.execute {
                handler.value.attach(to: remote)
                (try? remote.pipeline.syncOperations.handler(type: PlainRelayHandler.self))?.attach(to: local)
            }
            return
        }
        local.close(promise: nil)
    }
}

import Synchronization
