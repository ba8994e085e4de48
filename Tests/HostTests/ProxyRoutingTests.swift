import CarrierCore
@testable import CarrierHost
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import TestSupport
import Testing

/// How the proxy routes what `make fuzz-http` (Schemathesis) sent it, where it answered wrong:
/// - a method a route does not serve answers 405 with `Allow` (RFC 9110), on every route, native
///   and OpenDHT's, where some answered 404 and none named the allowed methods; a GET of the
///   WebSocket path without the upgrade answers 426 with `Upgrade: websocket`, not 404;
/// - a path segment that begins with a combining mark or an emoji modifier (`/v1/nodes/%CC%81`)
///   is still a segment of its own (answered 400, not an id), where the path, split as a Swift
///   `String` by grapheme clusters, lost the slash before it and answered 404.
@Suite(.serialized)
struct ProxyRoutingTests {
    @Test func aMethodARouteDoesNotServeAnswers405WithAllow() async throws {
        let (network, host, endpoint) = try await Self.proxy()
        let key = String(repeating: "ab", count: 20)
        let cases: [(method: String, path: String, allow: String, openDHT: Bool)] = [
            ("DELETE", "/v1/node", "GET, HEAD", false),
            ("POST", "/v1/health", "GET, HEAD", false),
            ("PUT", "/v1/values/\(Id.random().base58)", "GET, HEAD", false),
            ("GET", "/v1/values", "POST", false),
            ("PATCH", "/v1/peers", "POST", false),
            ("POST", "/v1/services/proxy", "GET, HEAD", false),
            ("POST", "/v1/auth/challenge", "GET, HEAD", false),
            ("GET", "/v1/auth/session", "POST", false),
            ("POST", "/v1/client.js", "GET, HEAD", false),
            ("POST", "/v1/ws", "GET, HEAD", false),
            ("POST", "/", "GET, HEAD", true),
            ("DELETE", "/node/info", "GET, HEAD", true),
            ("PUT", "/node/stats", "GET, HEAD", true),
            ("DELETE", "/key/\(key)", "GET, HEAD, POST", true),
            ("POST", "/key/\(key)/listen", "GET, HEAD", true),
        ]
        for (method, path, allow, openDHT) in cases {
            let (status, headers, json) = try await Self.call(method, endpoint + path)
            #expect(status == 405 && headers["Allow"] == allow, "\(method) \(path): \(status) \(headers)")
            if openDHT {
                #expect(json["err"] is String, "\(method) \(path): \(json)")
            } else {
                #expect((json["error"] as? [String: Any])?["code"] as? Int == 204, "\(method) \(path): \(json)")
            }
        }
        // Still 404: a path no route serves.
        #expect(try await Self.call("DELETE", endpoint + "/v1/nowhere").status == 404)
        #expect(try await Self.call("GET", endpoint + "/node/elsewhere").status == 404)

        let plain = try await Self.call("GET", endpoint + "/v1/ws")
        #expect(plain.status == 426 && plain.headers["Upgrade"] == "websocket", "\(plain.status) \(plain.headers)")
        #expect((plain.json["error"] as? [String: Any])?["code"] as? Int == 203, "\(plain.json)")
        await host.stopAll()
        await network.stop()
    }

    @Test func aSegmentThatBeginsWithACombiningMarkIsASegment() async throws {
        let (network, host, endpoint) = try await Self.proxy()
        // U+0301 (combining acute accent) and U+1F3FB (an emoji skin-tone modifier).
        for mark in ["%CC%81", "%F0%9F%8F%BB"] {
            for route in ["/v1/values/", "/v1/nodes/", "/v1/peers/", "/v1/services/"] {
                let answer = try await Self.call("GET", endpoint + route + mark)
                #expect(answer.status == 400 && (answer.json["error"] as? [String: Any])?["code"] as? Int == 203,
                        "\(route)\(mark): \(answer.status) \(answer.json)")
            }
            let key = try await Self.call("GET", endpoint + "/key/" + mark)
            #expect(key.status == 400 && key.json["err"] is String, "/key/\(mark): \(key.status) \(key.json)")
            // A /v1 path is answered in the /v1 error form, whatever its next segment begins with.
            let unknown = try await Self.call("GET", endpoint + "/v1/" + mark)
            #expect(unknown.status == 404 && (unknown.json["error"] as? [String: Any])?["code"] as? Int == 204, "\(unknown.json)")
        }
        await host.stopAll()
        await network.stop()
    }

    private static func proxy() async throws -> (HostNetwork, PluginHost, String) {
        let network = try await HostNetwork.start()
        let host = PluginHost(environment: network.environment, runnerSettings: RunnerSettings(executable: CarrierBinary.path))
        await host.apply([try HostNetwork.manifest(library: try CPlugins.proxy(), id: "org.carrier.proxy", config: HostNetwork.openProxy)])
        let endpoint = try #require(network.environment.services.announced.first { $0.type == "proxy" }?.endpoint)
        return (network, host, endpoint)
    }

    private static func call(_ method: String, _ url: String) async throws -> (status: Int, headers: [String: String], json: [String: Any]) {
        var request = URLRequest(url: URL(string: url)!)
        request.httpMethod = method
        request.setValue("application/json", forHTTPHeaderField: "Accept")
        let (data, response) = try await URLSession.shared.data(for: request)
        let http = response as? HTTPURLResponse
        var headers: [String: String] = [:]
        for name in ["Allow", "Upgrade"] { headers[name] = http?.value(forHTTPHeaderField: name) }
        return (http?.statusCode ?? 0, headers, (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:])
    }
}
