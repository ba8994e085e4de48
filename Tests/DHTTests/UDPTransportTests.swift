import CarrierDHT
import TestSupport
import Testing

/// The socket layer under every node.
struct UDPTransportTests {
    /// Regression: with SO_REUSEADDR, Linux gave about one port-0 socket in twenty a port another
    /// socket already held, and a node sharing a port lost replies to its neighbour (a CI flake).
    @Test func portZeroNeverHandsOutAPortInUse() async throws {
        var transports: [UDPTransport] = []
        for _ in 0..<400 { transports.append(try await UDPTransport(binding: Endpoint("127.0.0.1:0")!)) }
        #expect(Set(transports.map(\.localEndpoint.port)).count == transports.count)
        for transport in transports { await transport.close() }
    }

    @Test func aPortInUseCannotBeBoundTwice() async throws {
        let first = try await UDPTransport(binding: Endpoint("127.0.0.1:0")!)
        await #expect(throws: (any Error).self) { _ = try await UDPTransport(binding: first.localEndpoint) }
        await first.close()
    }

    @Test func aConsumerThatFallsBehindLosesTheNewestDatagramsNotTheProcess() async throws {
        let receiver = try await UDPTransport(binding: Endpoint("127.0.0.1:0")!, delivery: .queued(limit: 4))
        let sender = try await UDPTransport(binding: Endpoint("127.0.0.1:0")!)
        for index in 0..<100 { sender.send([UInt8(index)], to: receiver.localEndpoint) }
        _ = await eventually(within: .seconds(1)) { receiver.droppedInbound >= 96 }
        #expect(receiver.droppedInbound == 96)
        await receiver.close()
        var received: [UInt8] = []
        await receiver.receive { received += $0.bytes }
        #expect(received == [0, 1, 2, 3], "the queued ones are still delivered after close")
        await sender.close()
    }
}
