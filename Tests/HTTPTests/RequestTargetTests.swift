import CarrierHTTP
import Testing

/// The request-target parser: every input a client can send is either split and decoded or
/// refused with a reason, never trapped on (issue #12: `?=` crashed the proxy).
struct RequestTargetTests {
    @Test(arguments: ["/v1/node?=", "/v1/node?a=1&=", "/x?==", "/x?=&=&", "/x?&&&", "/x?", "/x?a", "/x?=a", "/x??", "/x?a==b"])
    func queriesMadeOfSeparatorsParse(target: String) throws {
        let parsed = try RequestTarget(parsing: target)
        #expect(parsed.path == "/" + target.dropFirst().prefix { $0 != "?" })
    }

    @Test func itemsAreSplitAtTheFirstEqualsSignAndTheFirstNameWins() throws {
        let parsed = try RequestTarget(parsing: "/v1/values/X?cas=3&a==b&flag&cas=4&=empty")
        #expect(parsed.path == "/v1/values/X")
        #expect(parsed.query == ["cas": "3", "a": "=b", "flag": "", "": "empty"])
    }

    @Test func percentEscapesAndPlusAreDecoded() throws {
        let parsed = try RequestTarget(parsing: "/v1/caf%C3%A9?q=a+b%2Bc&%6E=%7e")
        #expect(parsed.path == "/v1/café")
        #expect(parsed.query == ["q": "a b+c", "n": "~"])
    }

    @Test(arguments: [
        ("v1/node", "must be a path"), ("*", "must be a path"), ("http://example/v1", "must be a path"), ("", "must be a path"),
        ("/x%", "two hex digits"), ("/x%4", "two hex digits"), ("/x%zz", "two hex digits"), ("/x?a=%g1", "two hex digits"),
        ("/x%00", "control character"), ("/x?a=%0A", "control character"), ("/x%7F", "control character"),
        ("/x%FF", "not UTF-8"), ("/x?%C3=1", "not UTF-8"), ("/x#frag", "fragment"),
    ])
    func malformedTargetsAreRefusedWithTheReason(target: String, reason: String) {
        #expect {
            try RequestTarget(parsing: target)
        } throws: { error in
            "\(error)".contains(reason)
        }
    }

    @Test func atMost64QueryItems() throws {
        let items = (0..<64).map { "k\($0)=v" }
        #expect(try RequestTarget(parsing: "/x?" + items.joined(separator: "&")).query.count == 64)
        #expect(throws: RequestTargetError.self) { try RequestTarget(parsing: "/x?" + (items + ["k64=v"]).joined(separator: "&")) }
    }
}
