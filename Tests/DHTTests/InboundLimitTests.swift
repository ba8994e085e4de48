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
    /// A bare peer on its own socket: answers pings once told to, sends pings in bulk and counts
    /// the answers.
    private final class PingingPeer: Sendable {
        let identity = KeyPair.random()
        let transport: UDPTransport
        let envelope: DatagramEnvelope
        /// What the receiving task shares with the test.
        final class State: Sendable {
            let answersRequests = Mutex(false)
            let answers = Mutex(0)
        }
        let state = State()
        private let task: Task<Void, Never>

        init() async throws {
            transport = try await UDPTransport(binding: Endpoint("127.0.0.1:0")!)
            envelope = DatagramEnvelope(identity: identity)
            task = Task { [transport, envelope, state] in
                await transport.receive { datagram in
                    guard let (sender, bytes) = try? envelope.open(datagram.bytes, family: .ipv4),
                          let message = try? Message.decode(cbor: bytes) else { return }
                    if message.kind == .request {
                        guard state.answersRequests.withLock({ $0 }) else { return }
                        let reply = Message(txid: message.txid, body: .pingResponse)
                        transport.send(try! envelope.seal(reply.cbor, to: sender, family: .ipv4), to: datagram.sender)
                    } else {
                        state.answers.withLock { $0 += 1 }
                    }
                }
            }
        }

        var contact: NodeInfo { NodeInfo(id: identity.publicKey, address: transport.localEndpoint.address, port: transport.localEndpoint.port) }
        var answered: Int { state.answers.withLock { $0 } }

        /// Sends `count` pings to `node` and returns how many were answered within half a second.
        func ping(_ node: NodeInfo, count: Int) async throws -> Int {
            let before = answered
            let destination = Endpoint(address: node.address, port: node.port)
            for index in 0..<count {
                let request = Message(txid: UInt64(index + 1), body: .pingRequest)
                transport.send(try envelope.seal(request.cbor, to: node.id, family: .ipv4), to: destination)
            }
            try await Task.sleep(for: .milliseconds(500))
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
        configuration.inboundRate = 1
        configuration.inboundBurst = 10
        configuration.contactInboundRate = 1
        configuration.contactInboundBurst = 100
        let node = try DHTNode(identity: KeyPair.random(), configuration: configuration)
        try await node.start()
        let nodeInfo = try #require(await node.nodeInfo)
        let peer = try await PingingPeer()

        // A stranger (it does not answer the node's ping back yet): 10 of 50 answered, the
        // burst; the rest throttled.
        let asStranger = try await peer.ping(nodeInfo, count: 50)
        #expect(asStranger == 10, "\(asStranger) answered")
        #expect(await node.statistics.throttled >= 40)

        // Once it has answered one of the node's requests (after a second, so its answer gets
        // through the stranger's limit), its endpoint is a contact's: 60 of 60 answered.
        peer.state.answersRequests.withLock { $0 = true }
        try await Task.sleep(for: .milliseconds(1100))
        #expect(await node.ping(peer.contact))
        let throttledBefore = await node.statistics.throttled
        let asContact = try await peer.ping(nodeInfo, count: 60)
        #expect(asContact == 60, "\(asContact) answered")
        #expect(await node.statistics.throttled == throttledBefore)

        await peer.stop()
        await node.stop()
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
