import CarrierCore
@testable import CarrierHost
import CarrierShadow
import NIOPosix
import TestSupport
import Testing

/// How a client chooses among Shadow supernodes (docs/shadow.md, "Discovery"): each answers a
/// `query` with how full its public ports are, and its service record says what it charges.
@Suite(.serialized)
struct ShadowDiscoveryTests {
    typealias Supernode = ShadowRelayTests.Supernode
    static let group = ShadowRelayTests.group

    @Test func aSupernodeSaysHowFullItsPortsAreAndOnlyItCanSaySo() async throws {
        try await Supernode.with(ports: 20) { node in
            let me = KeyPair.random()
            #expect(try await SupernodeProbe.probe(node.supernode, identity: me, group: Self.group).load == 0)

            let echo = try await TCPEchoServer(group: Self.group)
            let services = ["a", "b", "c"].map { ShadowService(name: $0, targetHost: "127.0.0.1", targetPort: echo.port) }
            let client = ShadowClient(identity: KeyPair.random(), supernode: node.supernode, services: services, group: Self.group)
            let (_, _, running) = try await ShadowRelayTests.expose(client)
            // The supernode reads its load at most once a second.
            #expect(await eventually { (try? await SupernodeProbe.probe(node.supernode, identity: me, group: Self.group))?.load == 150 },
                    "3 of 20 ports held")
            #expect(node.counter("queries") >= 2)

            // An impostor at the same address cannot answer for another id: the handshake fails.
            var impostor = node.supernode
            impostor.id = KeyPair.random().publicKey
            await #expect(throws: (any Error).self) { try await SupernodeProbe.probe(impostor, identity: me, group: Self.group) }
            running.cancel()
            _ = await running.value
            await echo.close()
        }
    }

    @Test func theCheaperOfTwoSupernodesIsChosenByItsRecordsPrices() async throws {
        let priced = { (price: String) in
            "[billing]\ndefault_plan = \"p\"\n[billing.plans.p]\nperiod = \"30d\"\n[billing.plans.p.meters.bytes_relayed]\nprice = \(price)\n"
        }
        try await Supernode.with(config: priced("0.000002")) { dear in
            try await Supernode.with(config: priced("0.000001")) { cheap in
                var candidates: [SupernodeRanking.Candidate] = []
                for node in [dear, cheap] {
                    let record = try #require(node.network.environment.services.announced.first { $0.type == "shadow" })
                    #expect(record.prices?.meters["bytes_relayed"] != nil, "\(record)")
                    var probe = try await SupernodeProbe.probe(node.supernode, identity: KeyPair.random(), group: Self.group)
                    probe.roundTrip = .milliseconds(1)  // the same for both: the prices decide
                    candidates.append(SupernodeRanking.Candidate(probe: probe, price: SupernodeRanking.price(of: record.prices)))
                }
                #expect(candidates.map { $0.price?.micro } == [2_000_000_000, 1_000_000_000])
                #expect(SupernodeRanking.ranked(candidates).first?.probe.supernode == cheap.supernode)
            }
        }
    }
}
