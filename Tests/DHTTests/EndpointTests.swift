import CarrierCore
@testable import CarrierDHT
import NIOCore
import Testing

/// An endpoint goes to a socket address and back by its bytes, for both families, as every
/// datagram sent and received does.
struct EndpointTests {
    @Test(arguments: ["127.0.0.1:39001", "203.0.113.7:1", "[::1]:65535", "[2001:db8::42]:443", "[::ffff:192.0.2.1]:9"])
    func anEndpointSurvivesTheSocketAddressRoundTrip(text: String) throws {
        let endpoint = try #require(Endpoint(text))
        let address = endpoint.socketAddress
        #expect(Endpoint(address) == endpoint)
        #expect(address.port == Int(endpoint.port))
        #expect(try SocketAddress(ipAddress: endpoint.address.description, port: Int(endpoint.port)) == address,
                "the same address NIO builds from text")
    }
}
