import CarrierCore
import CarrierDHT
import Foundation
import Testing

/// Retries after a timeout and the outbound rate limit, against a scripted peer on a real socket.
@Suite(.serialized)
struct CallPolicyTests {
    /// A peer that opens every request, drops the first `ignoring` of them, then answers PINGs.
    private final class ScriptedPeer: Sendable {
        let identity = KeyPair.random()
        let transport: UDPTransport
        let envelope: DatagramEnvelope
        private let task: Task<Int, Never>

        init(ignoring: Int) async throws {
            transport = try await UDPTransport(binding: Endpoint("127.0.0.1:0")!)
            envelope = DatagramEnvelope(identity: identity)
            task = Task { [transport, envelope] in
                var seen = 0
                await transport.receive { datagram in
                    guard let (sender, bytes) = try? envelope.open(datagram.bytes, family: .ipv4),
                          let request = try? Message.decode(cbor: bytes) else { return }
                    seen += 1
                    guard seen > ignoring else { return }
                    let reply = Message(txid: request.txid, body: .pingResponse)
                    transport.send(try! envelope.seal(reply.cbor, to: sender, family: .ipv4), to: datagram.sender)
                }
                return seen
            }
        }

        var contact: NodeInfo { NodeInfo(id: identity.publicKey, address: transport.localEndpoint.address, port: transport.localEndpoint.port) }

        /// Stops and returns how many requests arrived.
        func stop() async -> Int {
            await transport.close()
            return await task.value
        }
    }

    private func makeNode(_ adjust: (inout DHTNode.Configuration) -> Void) async throws -> DHTNode {
        var configuration = DHTNode.Configuration(listen: Endpoint("127.0.0.1:0")!,
                                                  dataDirectory: NSTemporaryDirectory() + "carrier-calls-\(UUID().uuidString)")
        configuration.allowLocal = true
        // Generous: a loaded CI machine must not turn an answered request into a timeout.
        configuration.requestTimeout = .seconds(2)
        adjust(&configuration)
        let node = try DHTNode(identity: KeyPair.random(), configuration: configuration)
        try await node.start()
        return node
    }

    @Test func aPingLostOnceIsRetriedAndAnswered() async throws {
        let peer = try await ScriptedPeer(ignoring: 1)
        let node = try await makeNode { $0.attempts = 2 }
        #expect(await node.ping(peer.contact))
        let statistics = await node.statistics
        #expect(statistics.retries == 1 && statistics.requestsTimedOut == 1, "\(statistics)")
        await node.stop()
        #expect(await peer.stop() == 2)
    }

    @Test func withOneAttemptALostPingFails() async throws {
        let peer = try await ScriptedPeer(ignoring: 1)
        let node = try await makeNode { $0.attempts = 1 }
        #expect(await node.ping(peer.contact) == false)
        #expect(await node.statistics.retries == 0)
        await node.stop()
        #expect(await peer.stop() == 1)
    }

    @Test func requestsBeyondTheOutboundLimitAreNotSent() async throws {
        let peer = try await ScriptedPeer(ignoring: 0)
        // One request every 10 s after a burst of 3: the 4th would wait seconds, over the 0.5 s
        // allowed, however slowly a loaded machine runs the first three. One attempt each: on a
        // loaded machine a retry of a slow answer would spend a token of the burst.
        let node = try await makeNode {
            $0.attempts = 1
            $0.outboundRate = 0.1
            $0.outboundBurst = 3
            $0.outboundMaxWait = .milliseconds(500)
        }
        var answered: [Bool] = []
        for _ in 0..<5 { answered.append(await node.ping(peer.contact)) }
        #expect(answered == [true, true, true, false, false])
        #expect(await node.statistics.outboundThrottled == 2)
        // Another destination still gets its own budget (a burst of 3: a ping lost on a loaded
        // machine, with one attempt each, may be sent again).
        let other = try await ScriptedPeer(ignoring: 0)
        var answeredOther = false
        for _ in 0..<3 where !answeredOther { answeredOther = await node.ping(other.contact) }
        #expect(answeredOther, "3 pings to another destination went unanswered")
        await node.stop()
        #expect(await peer.stop() == 3)
        _ = await other.stop()
    }

    @Test func requestsOverTheOutboundLimitWaitTheirTurnWhenItIsNear() async throws {
        let peer = try await ScriptedPeer(ignoring: 0)
        // One a second after a burst of 3, and up to 2 s of waiting allowed: the 4th and 5th
        // pings wait their turn (unless the first three took over a second) and all are answered.
        let node = try await makeNode {
            $0.outboundRate = 1
            $0.outboundBurst = 3
            $0.outboundMaxWait = .seconds(2)
        }
        var answered: [Bool] = []
        for _ in 0..<5 { answered.append(await node.ping(peer.contact)) }
        #expect(answered == Array(repeating: true, count: 5))
        #expect(await node.statistics.outboundThrottled == 0)
        let paced = await node.statistics.outboundPaced
        #expect(paced >= 1, "\(paced) paced")
        await node.stop()
        // Each ping reached the peer; on a loaded machine an answer slower than the adaptive
        // timeout (200 ms at least) makes the node send that ping a second time.
        let requests = await peer.stop()
        #expect(requests >= 5, "\(requests) requests")
    }
}
