import CarrierCore
import CarrierDHT
import Foundation
import TestSupport
import Testing

/// One identity on an IPv4 and an IPv6 socket, with a routing table per family (loopback ::1).
@Suite(.serialized)
struct DualStackTests {
    private func makeNode(listen: [String]) throws -> DHTNode {
        var configuration = DHTNode.Configuration(listen: listen.map { Endpoint($0)! },
                                                  dataDirectory: NSTemporaryDirectory() + "carrier-dual-\(UUID().uuidString)")
        configuration.allowLocal = true
        configuration.requestTimeout = .milliseconds(500)
        return try DHTNode(identity: KeyPair.random(), configuration: configuration)
    }

    @Test func aNodeJoinedOverIPv4LearnsItsIPv6NetworkAndServesBoth() async throws {
        var nodes: [DHTNode] = []
        for _ in 0..<10 {
            let node = try makeNode(listen: ["127.0.0.1:0", "[::1]:0"])
            try await node.start()
            nodes.append(node)
        }
        let seeds = await nodes[0].nodeInfos
        #expect(seeds.map { Endpoint(address: $0.address, port: $0.port).family } == [.ipv4, .ipv6])
        // Half join through both of the seed's addresses, half through its IPv4 address alone: those
        // learn their IPv6 contacts from the IPv4 answers, which carry both families while the
        // IPv6 table is short, and ping them over IPv6.
        for (index, node) in nodes.enumerated().dropFirst() {
            #expect(await node.bootstrap(index < 5 ? seeds : [seeds[0]]) == (index < 5 ? 2 : 1))
        }
        for node in nodes { _ = await node.findNode(node.id) }
        for node in nodes {
            #expect(await node.contacts(in: .ipv4).count == 9)
            #expect(await eventually(within: .seconds(2)) { await node.contacts(in: .ipv6).count == 9 })
        }
        // An IPv6-only reader finds what a dual-stack writer stored.
        let reader = try makeNode(listen: ["[::1]:0"])
        try await reader.start()
        #expect(await reader.bootstrap([try #require(await nodes[3].nodeInfos.last)]) == 1)
        #expect(await reader.contacts(in: .ipv4).isEmpty)
        let value = Value.immutable(Array("over both families".utf8))
        let accepted = try await nodes[5].storeValue(value, persistent: false)
        #expect(accepted.values.filter { $0 }.count >= 9)
        #expect(await reader.findValue(value.id) == value)
        #expect(await reader.findNode(nodes[7].id).first?.id == nodes[7].id)
        await reader.stop()
        for node in nodes { await node.stop() }
    }

    @Test func bothSocketsMayShareOnePort() async throws {
        let probe = try await UDPTransport(binding: Endpoint("127.0.0.1:0")!)
        let port = probe.localEndpoint.port
        await probe.close()
        let node = try makeNode(listen: ["127.0.0.1:\(port)", "[::1]:\(port)"])
        #expect(try await node.start().map(\.port) == [port, port])
        await node.stop()
    }

    @Test func twoEndpointsOfOneFamilyAreRefused() throws {
        #expect(throws: NodeConfigurationError.self) { try makeNode(listen: ["127.0.0.1:0", "127.0.0.1:1"]) }
        #expect(throws: NodeConfigurationError.self) { try makeNode(listen: []) }
    }

    @Test func aContactOfAFamilyWeDoNotServeIsNotCalled() async throws {
        let node = try makeNode(listen: ["127.0.0.1:0"])
        try await node.start()
        #expect(await node.ping(NodeInfo(id: .random(), address: IPAddress("::1")!, port: 9)) == false)
        #expect(await node.statistics.datagramsSent == 0)
        await node.stop()
    }
}
