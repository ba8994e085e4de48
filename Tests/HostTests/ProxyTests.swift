import CarrierCore
import CarrierDHT
@testable import CarrierHost
import CarrierPluginABI
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import TestSupport
import Testing

/// The proxy plugin's REST API in a supernode on loopback, in process and in a plugin runner: a
/// light node that speaks only HTTP stores a value and announces a peer record it signed itself,
/// a regular node finds the value on the DHT, service providers are found; every error path
/// answers JSON with the protocol's code.
@Suite(.serialized)
struct ProxyTests {
    private struct Answer {
        let status: Int
        let json: [String: Any]
    }

    private static func call(_ method: String, _ url: String, body: String? = nil) async throws -> Answer {
        var request = URLRequest(url: URL(string: url)!)
        request.httpMethod = method
        request.httpBody = body.map { Data($0.utf8) }
        let (data, response) = try await URLSession.shared.data(for: request)
        let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
        return Answer(status: (response as? HTTPURLResponse)?.statusCode ?? 0, json: json)
    }

    private static func code(_ answer: Answer) -> Int? { (answer.json["error"] as? [String: Any])?["code"] as? Int }

    @Test(arguments: PluginHostTests.isolations) func aLightNodeStoresAndReadsValuesOverHTTP(isolation: PluginManifest.Isolation) async throws {
        let network = try await HostNetwork.start()
        let host = PluginHost(environment: network.environment, runnerSettings: RunnerSettings(executable: CarrierBinary.path))
        await host.apply([try HostNetwork.manifest(library: try CPlugins.proxy(), id: "org.carrier.proxy",
                                                   config: HostNetwork.openProxy, isolation: isolation)])
        let status = await host.status
        #expect(status.first?.state == .running, "\(status)")
        let endpoint = try #require(network.environment.services.announced.first { $0.type == "proxy" }?.endpoint)
        #expect(endpoint.hasPrefix("http://127.0.0.1:"))
        let base = endpoint + "/v1"

        let node = try await Self.call("GET", base + "/node")
        #expect(node.status == 200 && node.json["id"] as? String == network.host.id.base58)

        // The browser module, and a HEAD of it: the same status and type, no body.
        var head = URLRequest(url: URL(string: base + "/client.js")!)
        head.httpMethod = "HEAD"
        let (headBody, headResponse) = try await URLSession.shared.data(for: head)
        let script = try await URLSession.shared.data(from: URL(string: base + "/client.js")!)
        #expect((headResponse as? HTTPURLResponse)?.statusCode == 200 && headBody.isEmpty)
        #expect((headResponse as? HTTPURLResponse)?.value(forHTTPHeaderField: "Content-Type")?.hasPrefix("text/javascript") == true)
        #expect(String(decoding: script.0, as: UTF8.self).contains("export class CarrierClient"))

        // The light node signs; the proxy only checks and stores.
        let light = KeyPair.random()
        let value = Value.signed(by: light, sequenceNumber: 1, data: Array("from a phone".utf8))
        let stored = try await Self.call("POST", base + "/values", body: value.json)
        #expect(stored.status == 200 && stored.json["id"] as? String == light.publicKey.base58, "\(stored.json)")
        #expect((stored.json["accepted"] as? Int ?? 0) >= 1)
        #expect(await network.client.findValue(light.publicKey) == value, "the value travelled through the DHT")

        let read = try await Self.call("GET", base + "/values/\(light.publicKey.base58)")
        let readBack = try Value(json: String(decoding: try JSONSerialization.data(withJSONObject: read.json), as: UTF8.self))
        #expect(read.status == 200 && readBack == value)

        // A read-modify-write: stored where no node holds a version newer than cas; refused (409,
        // CasFail) by nodes that do, which keep their version.
        let second = Value.signed(by: light, sequenceNumber: 2, data: Array("second, after reading 1".utf8))
        let replaced = try await Self.call("POST", base + "/values?cas=1", body: second.json)
        #expect(replaced.status == 200 && (replaced.json["accepted"] as? Int ?? 0) >= 1, "\(replaced.json)")
        let unread = Value.signed(by: light, sequenceNumber: 3, data: Array("third, written without reading 2".utf8))
        let conflict = try await Self.call("POST", base + "/values?cas=1", body: unread.json)
        #expect(conflict.status == 409 && Self.code(conflict) == 301, "\(conflict.status) \(conflict.json)")
        #expect(await network.client.findValue(light.publicKey) == second, "the nodes kept the version the write did not read")
        // Stale writes (issue #12): other data at the stored seq, or a lower seq, are refused as
        // the nodes refuse them (409, SequenceNotMonotonic), and the proxy does not serve them.
        let sameSeq = Value.signed(by: light, sequenceNumber: 2, data: Array("other data at seq 2".utf8))
        for stale in [sameSeq, value] {
            let refused = try await Self.call("POST", base + "/values", body: stale.json)
            #expect(refused.status == 409 && Self.code(refused) == 302, "seq \(stale.sequenceNumber): \(refused.status) \(refused.json)")
        }
        let afterStale = try await Self.call("GET", base + "/values/\(light.publicKey.base58)")
        #expect(try Value(json: String(decoding: try JSONSerialization.data(withJSONObject: afterStale.json), as: UTF8.self)) == second)
        #expect(await network.client.findValue(light.publicKey) == second)

        let nodes = try await Self.call("GET", base + "/nodes/\(network.client.id.base58)")
        #expect(nodes.status == 200 && ((nodes.json["nodes"] as? [[Any]])?.contains { $0.first as? String == network.client.id.base58 } ?? false))

        // A peer record the light node signed, announced and found again; the supernodes that
        // offer a service type, from their signed records.
        let record = PeerInfo.create(owner: light, sequenceNumber: 1, endpoint: "https://phone.example:443")
        let announced = try await Self.call("POST", base + "/peers", body: record.json)
        #expect(announced.status == 200 && (announced.json["accepted"] as? Int ?? 0) >= 1, "\(announced.json)")
        let peers = try await Self.call("GET", base + "/peers/\(light.publicKey.base58)")
        #expect(((peers.json["peers"] as? [[String: Any]])?.first?["e"] as? String) == "https://phone.example:443", "\(peers.json)")
        let services = try await Self.call("GET", base + "/services/proxy")
        let providers = services.json["providers"] as? [[String: Any]] ?? []
        #expect(providers.contains { $0["node"] as? String == network.host.id.base58 && $0["plugin"] as? String == "org.carrier.proxy" },
                "\(services.json)")
        var forgedRecord = record
        forgedRecord.endpoint = "https://elsewhere.example"

        var forged = value
        forged.data = Array("altered".utf8)
        let cases: [(Answer, Int, Int)] = [
            (try await Self.call("POST", base + "/values", body: "{not json"), 400, 203),
            (try await Self.call("POST", base + "/values", body: forged.json), 400, 401),
            (try await Self.call("GET", base + "/values/\(Id.random().base58)"), 404, 3),
            (try await Self.call("GET", base + "/values/not-an-id"), 400, 203),
            (try await Self.call("GET", base + "/values/\(light.publicKey.base58)?cas=-2"), 400, 203),
            (try await Self.call("POST", base + "/values?cas=many", body: second.json), 400, 203),
            (try await Self.call("DELETE", base + "/node"), 405, 204),
            (try await Self.call("GET", endpoint + "/nowhere"), 404, 204),
            (try await Self.call("POST", base + "/values", body: String(repeating: "x", count: 70_000)), 413, 205),
            (try await Self.call("POST", base + "/peers", body: forgedRecord.json), 400, 402),
            (try await Self.call("POST", base + "/peers", body: "[]"), 400, 203),
            (try await Self.call("GET", base + "/services/No%20Such"), 400, 203),
        ]
        for (index, (answer, status, code)) in cases.enumerated() {
            #expect(answer.status == status && Self.code(answer) == code, "case \(index): \(answer.status) \(answer.json)")
        }
        await host.stopAll()
        #expect(network.environment.services.announced.isEmpty)
        await network.stop()
    }

    /// A proxy whose node has no live contact keeps answering, but says it is cut off everywhere
    /// a client or an operator looks: plugin health, `/v1/health`, OpenDHT's `/node/info`.
    @Test(arguments: PluginHostTests.isolations) func anIsolatedProxySaysItIsUnhealthy(isolation: PluginManifest.Isolation) async throws {
        let lonely = try await HostNetwork.node()
        let environment = try HostNetwork.environment(of: lonely)
        let host = PluginHost(environment: environment, runnerSettings: RunnerSettings(executable: CarrierBinary.path))
        await host.apply([try HostNetwork.manifest(library: try CPlugins.proxy(), id: "org.carrier.proxy",
                                                   config: HostNetwork.openProxy + "pollSeconds = 1", isolation: isolation)])
        let endpoint = try #require(environment.services.announced.first { $0.type == "proxy" }?.endpoint)
        let plugin = try #require(await host.instance("org.carrier.proxy"))
        #expect(await eventually { (try? await plugin.health())?.0 == CARRIER_HEALTH_FAILING })
        #expect(try await plugin.health().1.contains("no live DHT contacts"))

        let health = try await Self.call("GET", endpoint + "/v1/health")
        #expect(health.status == 503 && health.json["healthy"] as? Bool == false && health.json["contacts"] as? Int == 0, "\(health.json)")
        var request = URLRequest(url: URL(string: endpoint + "/node/info")!)
        request.setValue("*/*", forHTTPHeaderField: "Accept")
        let (data, _) = try await URLSession.shared.data(for: request)
        let info = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        #expect((info?["ipv4"] as? [String: Int])?["good"] == 0, "OpenDHT clients see the proxy as disconnected")

        // Cut off, a read or a write is 503 (the network is missing, try again), never a 404 that
        // tells the client the value does not exist; on the OpenDHT routes as on Carrier's own.
        let missing = KeyPair.random().publicKey.base58
        let unreachableRead = try await Self.call("GET", endpoint + "/v1/values/\(missing)")
        #expect(unreachableRead.status == 503 && "\(unreachableRead.json)".contains("no node could be reached"), "\(unreachableRead)")
        let value = Value.signed(by: KeyPair.random(), sequenceNumber: 1, data: Array("while cut off".utf8))
        let unreachableWrite = try await Self.call("POST", endpoint + "/v1/values", body: value.json)
        #expect(unreachableWrite.status == 503, "\(unreachableWrite)")
        let unreachablePeers = try await Self.call("GET", endpoint + "/v1/peers/\(missing)")
        #expect(unreachablePeers.status == 503, "\(unreachablePeers)")
        let key = String(repeating: "ab", count: 20)
        let openDHTRead = try await Self.call("GET", endpoint + "/key/\(key)")
        #expect(openDHTRead.status == 503 && (openDHTRead.json["err"] as? String)?.contains("no node could be reached") == true, "\(openDHTRead)")
        let openDHTWrite = try await Self.call("POST", endpoint + "/key/\(key)", body: #"{"data":"aGVsbG8=","id":"1"}"#)
        #expect(openDHTWrite.status == 503 && (openDHTWrite.json["err"] as? String)?.contains("no node could be reached") == true, "\(openDHTWrite)")

        // Once the node has a contact, the proxy is healthy again within a poll round, and a value
        // that is not there is reported missing.
        let peer = try await HostNetwork.node()
        #expect(await peer.bootstrap([try #require(await lonely.nodeInfo)]) == 1)
        #expect(await eventually(within: .seconds(5)) { (try? await plugin.health())?.0 == CARRIER_HEALTH_OK })
        #expect(try await Self.call("GET", endpoint + "/v1/health").status == 200)
        #expect(try await Self.call("GET", endpoint + "/v1/values/\(missing)").status == 404)
        await host.stopAll()
        await peer.stop()
        await lonely.stop()
    }

    /// The OpenAPI file describes exactly the routes the proxy serves (the ones the tests above
    /// and OpenDHTProxyTests call), so it cannot drift from the code unnoticed.
    @Test func theOpenAPIFileListsEveryRouteAndNoOther() throws {
        let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Plugins/proxy/openapi.yaml")
        let text = try String(contentsOf: file, encoding: .utf8)
        let documented = Set(text.split(separator: "\n").compactMap { line -> String? in
            guard line.hasPrefix("  /"), line.hasSuffix(":"), !line.hasPrefix("   ") else { return nil }
            return String(line.dropFirst(2).dropLast())
        })
        let served: Set = ["/v1/node", "/v1/health", "/v1/values/{id}", "/v1/values", "/v1/nodes/{id}", "/v1/peers/{id}", "/v1/peers",
                           "/v1/services/{type}", "/v1/ws", "/v1/auth/challenge", "/v1/auth/session", "/v1/client.js", "/", "/node/info",
                           "/node/stats", "/key/{hash}", "/key/{hash}/listen"]
        #expect(documented == served, "documented but not served: \(documented.subtracting(served)); served but not documented: \(served.subtracting(documented))")
        #expect(text.hasPrefix("openapi: 3."))
    }
}
