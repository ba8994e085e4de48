import CarrierHTTP
import Testing

/// An answer's further header fields (`HTTPAnswer.headers`) are written after the server's own,
/// on a plain answer and on a streamed one.
struct AnswerHeadersTests {
    @Test func furtherHeadersAreWritten() async throws {
        let server = try TestServer { request in
            var answer = request.path == "/stream" ? HTTPAnswer.streamed { _ in } : HTTPAnswer.json(#"{"error":{}}"#, .methodNotAllowed)
            answer.headers = [(name: "Allow", value: "GET, HEAD"), (name: "X-Second", value: "2")]
            return answer
        }
        let plain = try await server.get("/plain").lowercased()
        #expect(plain.hasPrefix("http/1.1 405") && plain.contains("\r\nallow: get, head\r\n") && plain.contains("\r\nx-second: 2\r\n"), "\(plain)")
        let streamed = try await server.get("/stream").lowercased()
        #expect(streamed.hasPrefix("http/1.1 200") && streamed.contains("\r\nallow: get, head\r\n"), "\(streamed)")
    }
}
