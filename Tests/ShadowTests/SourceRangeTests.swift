@testable import CarrierShadow
import NIOCore
import Testing

/// CIDR ranges for Shadow's allow- and denylists: parsing, printing and matching, IPv4 sources
/// seen through a dual-stack socket included.
struct SourceRangeTests {
    private static func address(_ text: String) throws -> SocketAddress { try SocketAddress(ipAddress: text, port: 4000) }

    @Test func rangesMatchTheirAddressesOnly() throws {
        let office = try SourceRange("203.0.113.0/24")
        #expect(try office.contains(try Self.address("203.0.113.0")) && office.contains(try Self.address("203.0.113.255")))
        #expect(!office.contains(try Self.address("203.0.114.1")))
        #expect(office.contains(try Self.address("::ffff:203.0.113.9")), "an IPv4-mapped source")
        #expect(!office.contains(try Self.address("2001:db8::1")))
        let v6 = try SourceRange("2001:db8::/32")
        #expect(try v6.contains(try Self.address("2001:db8:ffff::1")) && !v6.contains(try Self.address("2001:db9::1")))
        #expect(!v6.contains(try Self.address("203.0.113.9")))
        let odd = try SourceRange("10.0.0.129/25")
        #expect(odd.description == "10.0.0.128/25", "host bits are cleared")
        #expect(try odd.contains(try Self.address("10.0.0.200")) && !odd.contains(try Self.address("10.0.0.100")))
        #expect(try SourceRange("198.51.100.7").description == "198.51.100.7")
        #expect(try SourceRange("0.0.0.0/0").contains(try Self.address("8.8.8.8")))
        #expect(try SourceRange("2001:db8::/32").description == "2001:db8::/32")
        let mapped = try SourceRange("::ffff:203.0.113.0/120")
        #expect(mapped == office && mapped.description == "203.0.113.0/24", "a mapped range is the IPv4 range")
        let everyV6 = try SourceRange("::/0")
        #expect(try !everyV6.contains(Self.address("203.0.113.9")) && !everyV6.contains(Self.address("::ffff:203.0.113.9")))
        #expect(try everyV6.contains(Self.address("2001:db8::1")))
    }

    @Test func malformedRangesAreRefusedClearly() throws {
        for text in ["", "10.0.0.0/", "10.0.0.0/33", "10.0.0.0/٨", "10.0.0.0/-1", "10.0.0.0/+8", "::/129", "example.org", "10.0.0.0/8/8", "10.0.0"] {
            #expect(throws: SourceRange.Invalid.self, "\(text)") { try SourceRange(text) }
        }
        #expect(try [SourceRange](parsing: " 10.0.0.0/8, 192.0.2.1 ,") == [try SourceRange("10.0.0.0/8"), try SourceRange("192.0.2.1")])
        #expect(try [SourceRange](parsing: "").isEmpty)
    }

    @Test func aMappingAdmitsItsAllowlistMinusItsDenylist() throws {
        let open = MappingRequest(name: "web", transport: .tcp)
        #expect(open.admits(try Self.address("192.0.2.1")))
        let listed = MappingRequest(name: "ssh", transport: .tcp, allow: [try SourceRange("192.0.2.0/24")], deny: [try SourceRange("192.0.2.66")])
        #expect(listed.admits(try Self.address("192.0.2.1")))
        #expect(try !listed.admits(try Self.address("192.0.2.66")) && !listed.admits(try Self.address("198.51.100.1")))
    }
}
