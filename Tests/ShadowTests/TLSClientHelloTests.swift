@testable import CarrierShadow
import Testing

/// The shared TLS port's reading of a ClientHello's server name: strict, bounded, and never past
/// the first record (real clients' hellos are in ShadowVirtualHostTests).
struct TLSClientHelloTests {
    /// A ClientHello record with `extensions` (type, body), or none at all when nil.
    static func hello(_ extensions: [(UInt16, [UInt8])]?, sessionId: Int = 32, recordVersion: UInt8 = 1) -> [UInt8] {
        func u16(_ value: Int) -> [UInt8] { [UInt8(value >> 8 & 0xff), UInt8(value & 0xff)] }
        var body: [UInt8] = [3, 3] + [UInt8](repeating: 7, count: 32)
        body += [UInt8(sessionId)] + [UInt8](repeating: 1, count: sessionId)
        body += u16(4) + [0x13, 0x01, 0x13, 0x02] + [1, 0]
        if let extensions {
            let encoded = extensions.flatMap { u16(Int($0.0)) + u16($0.1.count) + $0.1 }
            body += u16(encoded.count) + encoded
        }
        let handshake = [1, 0] + u16(body.count) + body
        return [22, 3, recordVersion] + u16(handshake.count) + handshake
    }

    /// A `server_name` extension body naming `names` (type 0 each, unless `type` says otherwise).
    static func serverName(_ names: [String], type: UInt8 = 0) -> [UInt8] {
        let entries = names.flatMap { name -> [UInt8] in
            let bytes = Array(name.utf8)
            return [type, UInt8(bytes.count >> 8), UInt8(bytes.count & 0xff)] + bytes
        }
        return [UInt8(entries.count >> 8), UInt8(entries.count & 0xff)] + entries
    }

    @Test func theServerNameIsReadLowercasedAmongOtherExtensions() {
        let bytes = Self.hello([(10, [0, 2, 0, 29]), (0, Self.serverName(["Web.ABC.shadow.test"])), (43, [2, 3, 4])])
        #expect(TLSClientHello.parse(bytes) == .serverName("web.abc.shadow.test"))
        #expect(TLSClientHello.parse(bytes + [23, 3, 3]) == .serverName("web.abc.shadow.test"), "what follows the record is not read")
    }

    @Test func aHelloCutShortWantsMoreAndOneWithoutANameSaysSo() {
        let bytes = Self.hello([(0, Self.serverName(["a.b"]))])
        for cut in [0, 1, 4, 5, bytes.count - 1] {
            #expect(TLSClientHello.parse(bytes.prefix(cut)) == .needMore, "\(cut) bytes")
        }
        #expect(TLSClientHello.parse(Self.hello(nil)) == .noServerName)
        #expect(TLSClientHello.parse(Self.hello([(10, [0, 2, 0, 29])])) == .noServerName)
    }

    @Test func anythingElseIsMalformed() {
        let good = Self.hello([(0, Self.serverName(["a.b"]))])
        var cases: [(String, [UInt8])] = [
            ("plain HTTP", Array("GET / HTTP/1.1\r\n\r\n".utf8)),
            ("a record of SSL 3.0, not TLS", Self.hello(nil, recordVersion: 0)),
            ("a session id over 32 bytes", Self.hello(nil, sessionId: 33)),
            ("two server_name extensions", Self.hello([(0, Self.serverName(["a.b"])), (0, Self.serverName(["c.d"]))])),
            ("two host names", Self.hello([(0, Self.serverName(["a.b", "c.d"]))])),
            ("a name type other than host_name", Self.hello([(0, Self.serverName(["a.b"], type: 1))])),
            ("a space in the name", Self.hello([(0, Self.serverName(["a b"]))])),
            ("a trailing dot", Self.hello([(0, Self.serverName(["a.b."]))])),
            ("an empty name list", Self.hello([(0, [0, 0])])),
            ("a name over 253 bytes", Self.hello([(0, Self.serverName([String(repeating: "a", count: 254)]))])),
        ]
        var overlong = good
        overlong[3] = 0x40; overlong[4] = 0x01  // a record of 16,385 bytes
        cases.append(("a record over 16 KiB", overlong))
        var lying = good
        lying[8] = 0xff  // the handshake claims more than its record holds
        cases.append(("a handshake longer than its record", lying))
        var notHello = good
        notHello[5] = 2  // a ServerHello
        cases.append(("another handshake message", notHello))
        for (what, bytes) in cases {
            #expect(TLSClientHello.parse(bytes) == .malformed, "\(what)")
        }
    }
}
