import CarrierCore
@testable import CarrierDHT
import Foundation
import Synchronization
import Testing

/// The inbound limit's two tiers, on real sockets: a source that never answered the node gets the
/// stranger's allowance; once it has answered one of the node's requests, its endpoint gets the
/// contact's.
@Suite(.serialized)
struct InboundLimitTests {
    /// A bare peer on its own socket: answers pings if `answersRequests`, sends pings in bulk and
    /// counts the answers.
    private final class PingingPeer: Sendable {
        let identity = KeyPair.random()
        let transport: UDPTransport
        let envelope: DatagramEnvelope
        private let answers = Answers()
        private let task: Task<Void, Never>

        /// The answers the receiving task has counted.
        private final class Answers: Sendable {
            let count = Mutex(0)
        }

        init(answersRequests: Bool) async throws {
            transport = try await UDPTransport(binding: Endpoint("127.0.0.1:0")!)
            envelope = DatagramEnvelope(identity: identity)
            task = Task { [transport, envelope, answers] in
                await transport.receive { datagram in
                    guard let (sender, bytes) = try? envelope.open(datagram.bytes, family: .ipv4),
                          let message = try? Message.decode(cbor: bytes) else { return }
                    if message.kind != .request {
                        answers.count.withLock { $0 += 1 }
                    } else if answersRequests {
                        let reply = Message(txid: message.txid, body: .pingResponse)
                        transport.send(try! envelope.seal(reply.cbor, to: sender, family: .ipv4), to: datagram.sender)
                    }
                }
            }
        }

        var contact: NodeInfo { NodeInfo(id: identity.publicKey, address: transport.localEndpoint.address, port: transport.localEndpoint.port) }
        var answered: Int { answers.count.withLock { $0 } }

        /// Sends `count` pings to `node`; returns how many were answered once `expected` were, or
        /// after 10 s (a loaded machine can take a while).
        func ping(_ node: NodeInfo, count: Int, expecting expected: Int) async throws -> Int {
            let before = answered
            let destination = Endpoint(address: node.address, port: node.port)
            for index in 0..<count {
                let request = Message(txid: UInt64(index + 1), body: .pingRequest)
                transport.send(try envelope.seal(request.cbor, to: node.id, family: .ipv4), to: destination)
            }
            let deadline = ContinuousClock.now + .seconds(10)
            while answered - before < expected, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
            return answered - before
        }

        func stop() async {
            await transport.close()
            await task.value
        }
    }

    @Test func aSourceThatAnsweredTheNodeGetsTheContactAllowance() async throws {
        var configuration = DHTNode.Configuration(listen: Endpoint("127.0.0.1:0")!,
                                                  dataDirectory: NSTemporaryDirectory() + "carrier-inbound-\(UUID().uuidString)")
        configuration.allowLocal = true
        // A stranger gets a burst of 10 and next to no refill; a contact 100 and one a second.
        configuration.inboundRate = 0.01
        configuration.inboundBurst = 10
        configuration.contactInboundRate = 1
        configuration.contactInboundBurst = 100
        let node = try DHTNode(identity: KeyPair.random(), configuration: configuration)
        try await node.start()
        let nodeInfo = try #require(await node.nodeInfo)

        // A stranger (it never answers the node, not even its ping back): 10 of 50 answered,
        // the rest throttled. (On 127.0.0.1 each port is its own source.)
        let stranger = try await PingingPeer(answersRequests: false)
        let asStranger = try await stranger.ping(nodeInfo, count: 50, expecting: 10)
        #expect(asStranger == 10, "\(asStranger) answered")
        let deadline = ContinuousClock.now + .seconds(10)
        while await node.statistics.throttled < 40, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(await node.statistics.throttled == 40)

        // A peer that has answered one of the node's requests is a contact: 60 of 60 answered.
        let contact = try await PingingPeer(answersRequests: true)
        #expect(await node.ping(contact.contact))
        let asContact = try await contact.ping(nodeInfo, count: 60, expecting: 60)
        #expect(asContact == 60, "\(asContact) answered")
        #expect(await node.statistics.throttled == 40)

        await stranger.stop()
        await contact.stop()
        await node.stop()
    }
}

/// Txids cannot be guessed from the last one seen: a forger who saw one of a node's requests must
/// not be able to answer the next in the name of an address it does not own.
@Suite struct TxidTests {
    @Test func txidsAreDrawnAtRandom() async throws {
        let node = try DHTNode(identity: KeyPair.random(),
                               configuration: DHTNode.Configuration(listen: Endpoint("127.0.0.1:0")!,
                                                                    dataDirectory: NSTemporaryDirectory() + "carrier-txid-\(UUID().uuidString)"))
        var txids: [UInt64] = []
        for _ in 0..<16 { txids.append(await node.freshTxid()) }
        #expect(txids.allSatisfy { (1...UInt64(Int32.max)).contains($0) })
        #expect(Set(txids).count == 16)
        #expect(zip(txids, txids.dropFirst()).allSatisfy { $1 != $0 + 1 }, "\(txids)")
    }
}

/// `AnsweredEndpoints` forgets an answer after its lifetime and stays within its capacity.
@Suite struct AnsweredEndpointsTests {
    private func endpoint(_ port: Int) -> Endpoint { Endpoint("127.0.0.1:\(port)")! }

    @Test func anAnswerVouchesForItsEndpointForItsLifetime() {
        var answered = AnsweredEndpoints(lifetime: 1000, capacity: 10)
        answered.record(endpoint(1), now: 0)
        #expect(answered.contains(endpoint(1), now: 999))
        #expect(!answered.contains(endpoint(1), now: 1000))
        #expect(!answered.contains(endpoint(2), now: 0))
    }

    @Test func whenFullTheExpiredThenTheOldestHalfAreDropped() {
        var answered = AnsweredEndpoints(lifetime: 1000, capacity: 10)
        for port in 1...10 { answered.record(endpoint(port), now: Int64(port)) }
        // The 11th entry finds none expired, so the newest 5 stay.
        answered.record(endpoint(11), now: 11)
        #expect(answered.count == 5)
        #expect(answered.contains(endpoint(11), now: 12) && answered.contains(endpoint(7), now: 12))
        #expect(!answered.contains(endpoint(6), now: 12))
        // Later, the expired ones go first and the fresh one stays.
        for port in 12...16 { answered.record(endpoint(port), now: 2000) }
        answered.record(endpoint(17), now: 2000)
        #expect(answered.count == 6)
        #expect(!answered.contains(endpoint(11), now: 2000) && answered.contains(endpoint(17), now: 2000))
    }
}
