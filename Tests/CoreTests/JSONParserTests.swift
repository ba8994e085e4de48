import CarrierCore
import Testing

/// The strict JSON parser used for the compact JSON form.
struct JSONParserTests {
    @Test func parsesTheMessageSubsetExactly() throws {
        #expect(try JSONParser.parse(#" {"a":[1,-2,"x\n\u00e9\ud83d\ude00"],"b":{}} "#) == .object([
            JSONValue.Entry("a", .array([.integer(1), .integer(-2), .string("x\né😀")])),
            JSONValue.Entry("b", .object([])),
        ]))
        #expect(try JSONParser.parse("18446744073709551615") == .largeUnsigned(UInt64.max))
        #expect(try JSONParser.parse("-9223372036854775808") == .integer(Int64.min))
    }

    @Test(arguments: [
        "", "{", "[1,]", "{\"a\":1,}", "{\"a\" 1}", "01", "1.5", "1e3", "-", "18446744073709551616",
        "-9223372036854775809", "\"abc", "\"\\x\"", "\"\\ud800\"", "\"a\u{01}\"", "{\"a\":1,\"a\":2}", "tru", "1 2", "{1:2}",
    ])
    func malformedTextIsRefused(text: String) {
        #expect(throws: JSONError.self) { try JSONParser.parse(text) }
    }

    @Test func nestingIsBounded() {
        #expect(throws: JSONError.self) { try JSONParser.parse(String(repeating: "[", count: 17) + String(repeating: "]", count: 17)) }
        #expect((try? JSONParser.parse(String(repeating: "[", count: 16) + String(repeating: "]", count: 16))) != nil)
    }
}
