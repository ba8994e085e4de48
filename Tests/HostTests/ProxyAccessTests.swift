import CarrierCore
import CarrierDHT
@testable import CarrierHost
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import TestSupport
import Testing

/// Who may use the proxy: light nodes open sessions by signing a challenge with their Ed25519
/// key, every request is authorized and billed with the light node as the client (the manifest's
/// plan caps it), anonymous use is the manifest's call, and rates are limited per client and per
/// address. In process and in a plugin runner.
@Suite(.serialized)
struct ProxyAccessTests {
    private struct Answer {
        let status: Int
        let body: String
        let retryAfter: String?
        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:] }
        var code: Int? { (json["error"] as? [String: Any])?["code"] as? Int }
    }

    private static func call(_ method: String, _ url: String, token: String? = nil, body: String? = nil) async throws -> Answer {
        var request = URLRequest(url: URL(string: url)!)
        request.httpMethod = method
        request.httpBody = body.map { Data($0.utf8) }
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        let (data, response) = try await URLSession.shared.data(for: request)
        let http = response as? HTTPURLResponse
        return Answer(status: http?.statusCode ?? 0, body: String(decoding: data, as: UTF8.self), retryAfter: http?.value(forHTTPHeaderField: "Retry-After"))
    }

    /// The body of POST /v1/auth/session for `light`, signing `challenge` as the proxy asks.
    private static func signed(_ challenge: String, by light: KeyPair, proxy: Id) throws -> String {
        let bytes = try #require(Base64URL.decode(challenge))
        let signature = light.sign(Array("carrier-proxy-auth/v1".utf8) + proxy.bytes + bytes)
        return #"{"node":"\#(light.publicKey.base58)","challenge":"\#(challenge)","signature":"\#(Base64URL.encode(signature))"}"#
    }

    private static func start(_ config: String, isolation: PluginManifest.Isolation) async throws -> (HostNetwork, PluginHost, String) {
        let network = try await HostNetwork.start()
        let host = PluginHost(environment: network.environment, runnerSettings: RunnerSettings(executable: CarrierBinary.path))
        await host.apply([try HostNetwork.manifest(library: try CPlugins.proxy(), id: "org.carrier.proxy", config: config, isolation: isolation)])
        let endpoint = try #require(network.environment.services.announced.first { $0.type == "proxy" }?.endpoint)
        return (network, host, endpoint)
    }

    @Test(arguments: PluginHostTests.isolations) func lightNodesAuthenticateAndAreBilledPerRequest(isolation: PluginManifest.Isolation) async throws {
        // A closed proxy; the default plan allows 5 requests a period.
        let (network, host, endpoint) = try await Self.start("""
            host = "127.0.0.1"
            port = 0
            anonymous = false
            [billing]
            default_plan = "small"
            [billing.plans.small]
            period = "30d"
            [billing.plans.small.meters.requests]
            limit = 5
            """, isolation: isolation)
        let proxy = network.host.id

        let anonymous = try await Self.call("GET", endpoint + "/v1/node")
        #expect(anonymous.status == 401 && anonymous.code == 400 && anonymous.body.contains("GET /v1/auth/challenge"), "\(anonymous.body)")
        let openDHT = try await Self.call("GET", endpoint + "/node/info")
        #expect(openDHT.status == 401 && openDHT.body.hasPrefix(#"{"err":"#), "\(openDHT.body)")

        // A wrong signature spends the challenge; a right one on a fresh challenge opens a session.
        let light = KeyPair.random()
        let first = try #require(try await Self.call("GET", endpoint + "/v1/auth/challenge").json["challenge"] as? String)
        let stranger = KeyPair.random()
        let claimed = try Self.signed(first, by: stranger, proxy: proxy).replacingOccurrences(of: stranger.publicKey.base58, with: light.publicKey.base58)
        let impostor = try await Self.call("POST", endpoint + "/v1/auth/session", body: claimed)
        #expect(impostor.status == 401 && impostor.code == 206, "someone else's signature: \(impostor.body)")
        let replay = try await Self.call("POST", endpoint + "/v1/auth/session", body: try Self.signed(first, by: light, proxy: proxy))
        #expect(replay.status == 401 && replay.code == 400 && replay.body.contains("used or expired"), "\(replay.body)")
        let otherProxy = try #require(try await Self.call("GET", endpoint + "/v1/auth/challenge").json["challenge"] as? String)
        let elsewhere = try await Self.call("POST", endpoint + "/v1/auth/session", body: try Self.signed(otherProxy, by: light, proxy: Id.random()))
        #expect(elsewhere.status == 401 && elsewhere.code == 206, "a signature made for another proxy: \(elsewhere.body)")
        let fresh = try #require(try await Self.call("GET", endpoint + "/v1/auth/challenge").json["challenge"] as? String)
        let session = try await Self.call("POST", endpoint + "/v1/auth/session", body: try Self.signed(fresh, by: light, proxy: proxy))
        let token = try #require(session.json["token"] as? String, "\(session.body)")
        #expect(session.json["node"] as? String == light.publicKey.base58)

        // Five requests served and billed (a 404 is not billed), then the plan's limit.
        for _ in 0..<3 { #expect(try await Self.call("GET", endpoint + "/v1/node", token: token).status == 200) }
        #expect(try await Self.call("GET", endpoint + "/v1/values/\(Id.random().base58)", token: token).status == 404)
        for _ in 0..<2 { #expect(try await Self.call("GET", endpoint + "/v1/node", token: token).status == 200) }
        let over = try await Self.call("GET", endpoint + "/v1/node", token: token)
        #expect(over.status == 429 && over.body.contains("over quota") && over.retryAfter == "1", "\(over.body)")
        _ = try network.environment.billing.flush()
        let usage = try network.environment.billing.ledger.usage(client: light.publicKey)
        #expect(usage.map(\.units) == [5] && usage.first?.plugin == "org.carrier.proxy" && usage.first?.meter == "requests", "\(usage)")
        let stale = try await Self.call("GET", endpoint + "/v1/node", token: "not-a-token")
        #expect(stale.status == 401 && stale.code == 400, "\(stale.body)")

        // The same over the WebSocket: nothing before `authenticate`, then billed as that node.
        let port = try #require(Int(endpoint.split(separator: ":").last ?? ""))
        let socket = try await TestWebSocket.connect(host: "127.0.0.1", port: port)
        try await socket.send(#"{"req":1,"op":"node"}"#)
        #expect(await socket.message(containing: #"{"req":1,"error":{"code":400,"#) != nil, "\(socket.received)")
        try await socket.send(#"{"req":2,"op":"challenge"}"#)
        let challengeMessage = try #require(await socket.message(containing: #""req":2,"result""#))
        let challenge = try #require(((try JSONSerialization.jsonObject(with: Data(challengeMessage.utf8)) as? [String: Any])?["result"]
            as? [String: Any])?["challenge"] as? String)
        let phone = KeyPair.random()
        try await socket.send(#"{"req":3,"op":"authenticate",\#(try Self.signed(challenge, by: phone, proxy: proxy).dropFirst())"#)
        #expect(await socket.message(containing: #""req":3,"result":{"node":"\#(phone.publicKey.base58)""#) != nil, "\(socket.received)")
        try await socket.send(#"{"req":4,"op":"node"}"#)
        #expect(await socket.message(containing: #""req":4,"result":{"id":"\#(proxy.base58)""#) != nil, "\(socket.received)")
        // A plugin runner reports usage one way, so the record may come just after the answer.
        let billing = network.environment.billing
        #expect(await eventually {
            _ = try? billing.flush()
            return (try? billing.ledger.usage(client: phone.publicKey).map(\.units)) == [1]
        }, "\((try? billing.ledger.usage(client: phone.publicKey)) ?? [])")

        await socket.close()
        await host.stopAll()
        await network.stop()
    }

    @Test(arguments: PluginHostTests.isolations) func ratesAreLimitedPerClientAndPerAddress(isolation: PluginManifest.Isolation) async throws {
        // Two requests a second (bursts of four) for anonymous use and for each light node.
        let (network, host, endpoint) = try await Self.start("""
            host = "127.0.0.1"
            port = 0
            anonymous = true
            anonymousRate = 2
            clientRate = 2
            """, isolation: isolation)
        // Twelve requests: on a loaded machine six can take long enough for the bucket to refill.
        var anonymousAnswers: [Answer] = []
        for _ in 0..<12 { anonymousAnswers.append(try await Self.call("GET", endpoint + "/v1/node")) }
        #expect(anonymousAnswers.prefix(4).allSatisfy { $0.status == 200 }, "\(anonymousAnswers.map(\.status))")
        let limited = try #require(anonymousAnswers.first { $0.status == 429 }, "\(anonymousAnswers.map(\.status))")
        #expect(limited.body.contains("anonymous use is limited") && limited.retryAfter == "1", "\(limited.body)")

        let light = KeyPair.random()
        let challenge = try #require(try await Self.call("GET", endpoint + "/v1/auth/challenge").json["challenge"] as? String)
        let token = try #require(try await Self.call("POST", endpoint + "/v1/auth/session",
                                                     body: try Self.signed(challenge, by: light, proxy: network.host.id)).json["token"] as? String)
        var clientAnswers: [Answer] = []
        for _ in 0..<12 { clientAnswers.append(try await Self.call("GET", endpoint + "/v1/node", token: token)) }
        #expect(clientAnswers.prefix(4).allSatisfy { $0.status == 200 }, "a session is not held to the anonymous limit: \(clientAnswers.map(\.status))")
        #expect(clientAnswers.contains { $0.status == 429 && $0.body.contains("requests a second for \(light.publicKey.base58)") },
                "\(clientAnswers.map(\.status))")
        await host.stopAll()
        await network.stop()
    }

    @Test func everyRequestFromOneAddressCountsAgainstItsLimit() async throws {
        // Three requests a second per address (bursts of six), sessions or not: the challenge,
        // the session and a light node's own requests all count.
        let (network, host, endpoint) = try await Self.start("host = \"127.0.0.1\"\nport = 0\nanonymous = false\naddressRate = 3", isolation: .inProcess)
        let light = KeyPair.random()
        let challenge = try #require(try await Self.call("GET", endpoint + "/v1/auth/challenge").json["challenge"] as? String)
        let token = try #require(try await Self.call("POST", endpoint + "/v1/auth/session",
                                                     body: try Self.signed(challenge, by: light, proxy: network.host.id)).json["token"] as? String)
        // The 5th GET (the 7th request, after the challenge and the session) finds the burst of
        // 6 spent, unless a slow machine let a token refill in between: up to 12 tries.
        var statuses: [Int] = []
        var refusal: String?
        while refusal == nil, statuses.count < 12 {
            let answer = try await Self.call("GET", endpoint + "/v1/node", token: token)
            statuses.append(answer.status)
            if answer.status == 429 { refusal = answer.body }
        }
        #expect(statuses.prefix(4) == [200, 200, 200, 200] && statuses.last == 429, "\(statuses)")
        #expect(refusal?.contains("requests a second from 127.0.0.1") == true, "\(refusal ?? "none refused")")
        await host.stopAll()
        await network.stop()
    }

    @Test func webSocketSessionsExpireAndConnectionsPerAddressAreBounded() async throws {
        let (network, host, endpoint) = try await Self.start("""
            host = "127.0.0.1"
            port = 0
            anonymous = false
            sessionSeconds = 1
            connectionsPerSource = 3
            """, isolation: .inProcess)
        let port = try #require(Int(endpoint.split(separator: ":").last ?? ""))
        let socket = try await TestWebSocket.connect(host: "127.0.0.1", port: port)
        try await socket.send(#"{"req":1,"op":"challenge"}"#)
        let challengeMessage = try #require(await socket.message(containing: #""req":1,"result""#))
        let challenge = try #require(((try JSONSerialization.jsonObject(with: Data(challengeMessage.utf8)) as? [String: Any])?["result"]
            as? [String: Any])?["challenge"] as? String)
        try await socket.send(#"{"req":2,"op":"authenticate",\#(try Self.signed(challenge, by: KeyPair.random(), proxy: network.host.id).dropFirst())"#)
        #expect(await socket.message(containing: #""req":2,"result""#) != nil, "\(socket.received)")
        try await socket.send(#"{"req":3,"op":"node"}"#)
        #expect(await socket.message(containing: #""req":3,"result""#) != nil)
        // After sessionSeconds the connection is anonymous again, and this proxy refuses that.
        try await Task.sleep(for: .milliseconds(1200))
        try await socket.send(#"{"req":4,"op":"node"}"#)
        #expect(await socket.message(containing: #"{"req":4,"error":{"code":400,"message":"the session expired"#) != nil, "\(socket.received)")

        // Three connections from one address at once; a fourth is closed as it comes.
        let second = try await TestWebSocket.connect(host: "127.0.0.1", port: port)
        let third = try await TestWebSocket.connect(host: "127.0.0.1", port: port)
        await #expect(throws: (any Error).self) { _ = try await TestWebSocket.connect(host: "127.0.0.1", port: port) }
        await third.close()
        #expect(await eventually { (try? await TestWebSocket.connect(host: "127.0.0.1", port: port)) != nil }, "a slot frees when one closes")
        for client in [socket, second] { await client.close() }
        await host.stopAll()
        await network.stop()
    }
}
