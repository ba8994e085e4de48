import CarrierHost
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing

/// The admin endpoint's answers to requests it does not serve, and routing on the path alone.
struct AdminServerTests {
    @Test func unknownRoutesWrongMethodsAndLargeBodiesGetClearErrors() async throws {
        let directory = NSTemporaryDirectory() + "carrier-admin-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try "data_dir = \"data\"\nlisten = [\"127.0.0.1:0\"]\nallow_local = true\nadmin = \"127.0.0.1:0\"\n"
            .write(toFile: "\(directory)/node.toml", atomically: true, encoding: .utf8)
        let supernode = try await Supernode.start(manifestsDirectory: directory)
        let base = "http://\(try #require(await supernode.admin).localEndpoint)"

        func call(_ method: String, _ path: String, body: Data? = nil) async throws -> (Int, String) {
            var request = URLRequest(url: URL(string: base + path)!)
            request.httpMethod = method
            request.httpBody = body
            let (data, response) = try await URLSession.shared.data(for: request)
            return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
        }
        let (missing, missingBody) = try await call("GET", "/nope")
        #expect(missing == 404 && missingBody.contains("no such route: /nope"))
        #expect(try await call("DELETE", "/status").0 == 405)
        #expect(try await call("POST", "/reload", body: Data(count: 10_000)).0 == 413)
        let (ok, status) = try await call("GET", "/status")
        #expect(ok == 200 && status.contains("\"id\":\"\(supernode.node.id.base58)\""))
        #expect(try await call("POST", "/reload").1 == "[]\n")
        // A query string does not change where a request goes.
        let (queried, queriedStatus) = try await call("GET", "/status?x")
        #expect(queried == 200 && queriedStatus.contains("\"id\":\"\(supernode.node.id.base58)\""))
        #expect(try await call("GET", "/metrics?name=carrier_plugins&x=1").1.contains("# TYPE carrier_plugins gauge"))
        #expect(try await call("DELETE", "/status?x").0 == 405)
        let (queriedMissing, queriedMissingBody) = try await call("GET", "/nope?status")
        #expect(queriedMissing == 404 && queriedMissingBody.contains("no such route: /nope"))
        await supernode.stop()
    }
}
