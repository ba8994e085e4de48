import CarrierCore
@testable import CarrierHost
import CarrierPluginABI
import Glibc
import TestSupport
import Testing

/// ABI 1.6's `count_tcp_socket` through the host-API table, as a C plugin calls it, on a real
/// loopback connection: the host bills the kernel's count, and refuses what does not name a socket.
struct CountTCPSocketABITests {
    @Test func aSocketHandedToTheHostIsBilledByTheKernelsCount() async throws {
        let fixture = try await ABIFixture.make(id: "abi.sockets")
        let api = fixture.api, host = fixture.host
        #expect(api.define_meter(host, "bytes", "byte") == CARRIER_OK)
        fixture.context.advance(to: .running)
        let pair = try SocketMeterTests.Pair(), client = KeyPair.random().publicKey
        var id = CRecords.id(client), socket = Self.carrier(pair.name)

        var otherEnds = socket
        otherEnds.remote_port &+= 1
        #expect(api.count_tcp_socket(host, &id, "bytes", &otherEnds) == CARRIER_ERR_NOT_FOUND, "its cookie with other ends")
        #expect(api.count_tcp_socket(host, &id, "bytes", &socket) == CARRIER_OK)
        #expect(api.count_tcp_socket(host, &id, "bytes", &socket) == CARRIER_ERR_CONFLICT, "counted already")
        #expect(api.count_tcp_socket(host, &id, "undeclared", &socket) == CARRIER_ERR_INVALID_ARGUMENT)
        #expect(api.count_tcp_socket(host, nil, "bytes", &socket) == CARRIER_ERR_INVALID_ARGUMENT)
        #expect(api.count_tcp_socket(host, &id, "bytes", nil) == CARRIER_ERR_INVALID_ARGUMENT)
        var wrong = socket
        wrong.family = 5
        #expect(api.count_tcp_socket(host, &id, "bytes", &wrong) == CARRIER_ERR_INVALID_ARGUMENT)
        wrong = socket
        wrong.reserved.1 = 1
        #expect(api.count_tcp_socket(host, &id, "bytes", &wrong) == CARRIER_ERR_INVALID_ARGUMENT)
        wrong = socket
        wrong.cookie &+= 1_000_000
        #expect(api.count_tcp_socket(host, &id, "bytes", &wrong) == CARRIER_ERR_NOT_FOUND)

        pair.send(12_345, from: pair.client)
        pair.send(678, from: pair.server)
        pair.close(pair.client)
        try await Task.sleep(for: .milliseconds(20))
        pair.close(pair.server)
        // What each side sent, and the peer's FIN, which arrived while the socket was open.
        let billing = fixture.network.environment.billing
        #expect(await eventually { SocketMeterTests.billed(billing, client, plugin: "abi.sockets") == 13_024 },
                "billed \(SocketMeterTests.billed(billing, client, plugin: "abi.sockets"))")
        await fixture.network.stop()
    }

    static func carrier(_ socket: KernelSocket) -> carrier_tcp_socket {
        var named = carrier_tcp_socket()
        named.cookie = socket.cookie
        named.family = socket.family.rawValue
        named.local_port = socket.local.port
        named.remote_port = socket.remote.port
        withUnsafeMutableBytes(of: &named.local_address) { $0.copyBytes(from: socket.local.address) }
        withUnsafeMutableBytes(of: &named.remote_address) { $0.copyBytes(from: socket.remote.address) }
        return named
    }
}
