import CarrierCore
import CarrierDHT
import CarrierShadow
import Synchronization

/// Keeps an exposed endpoint announced as a peer record signed by the exposing node: at once,
/// then every 20 minutes (records live 2 hours), with a fingerprint fixed per mapping name so a
/// new announcement replaces the old one. `extra` holds `{"name", "protocol"}`.
final class PeerAnnouncer: Sendable {
    private let identity: KeyPair
    private let node: DHTNode
    private let name: String
    private let transport: MappingProtocol
    private let task = Mutex<Task<Void, Never>?>(nil)

    init(identity: KeyPair, node: DHTNode, name: String, transport: MappingProtocol) {
        self.identity = identity
        self.node = node
        self.name = name
        self.transport = transport
    }

    /// The fingerprint of mapping `name`: the first 8 bytes of its SHA-256.
    static func fingerprint(of name: String) -> Int64 {
        Sodium.sha256(Array("carrier-shadow mapping \(name)".utf8)).prefix(8).reduce(Int64(0)) { $0 << 8 | Int64($1) }
    }

    func announce(endpoint: String) {
        let identity = self.identity, node = self.node, name = self.name, transport = self.transport
        let replaced = task.withLock { current -> Task<Void, Never>? in
            defer {
                current = Task {
                    var writer = CBORWriter()
                    writer.item(.map([CBOR.Entry("name", .text(name)), CBOR.Entry("protocol", .text(transport.rawValue))]))
                    while !Task.isCancelled {
                        let sequence = Int32(clamping: Int64(Date().timeIntervalSince1970) - 1_700_000_000)
                        let peer = PeerInfo.create(owner: identity, fingerprint: Self.fingerprint(of: name), sequenceNumber: sequence,
                                                   endpoint: endpoint, extra: writer.bytes)
                        let accepted = (try? await node.announcePeer(peer, persistent: false))?.values.filter { $0 }.count ?? 0
                        Console.progress(accepted > 0 ? "announced \(endpoint) as peer \(identity.publicKey.base58) on \(accepted) nodes"
                                                      : "the announcement of \(endpoint) reached no node; trying again in a minute")
                        try? await Task.sleep(for: accepted > 0 ? .seconds(1200) : .seconds(60))
                    }
                }
            }
            return current
        }
        replaced?.cancel()
    }

    func stop() {
        task.withLock { $0?.cancel(); $0 = nil }
    }
}

import Foundation
