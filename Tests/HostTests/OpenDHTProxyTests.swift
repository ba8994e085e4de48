import CarrierCore
import CarrierDHT
@testable import CarrierHost
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import TestSupport
import Testing

/// The proxy's OpenDHT routes against the real OpenDHT client: Debian's unmodified
/// `dhtnode --proxyclient` (2.4) puts through one supernode's proxy, another `dhtnode` gets through
/// a second supernode's proxy (in a plugin runner, so nothing is shared but the DHT), and a third
/// listens there and hears a later put.
@Suite(.serialized)
struct OpenDHTProxyTests {
    private static func call(_ method: String, _ url: String, body: String? = nil) async throws -> (status: Int, body: String) {
        var request = URLRequest(url: URL(string: url)!)
        request.httpMethod = method
        request.httpBody = body.map { Data($0.utf8) }
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
    }

    @Test func dhtnodeProxyClientsPutGetAndListenThroughTwoSupernodes() async throws {
        try #require(OpenDHTNode.isInstalled, "dhtnode is missing: `make test` installs Debian's dhtnode package")
        let network = try await TwoProxies.start(config: HostNetwork.openProxy)
        let key = Hex.encode(Sodium.randomBytes(20))

        let listener = try OpenDHTNode.proxyClient(of: network.proxies[1])
        listener.send("l \(key)")
        #expect(await listener.waitFor("Listening, token"), "\(listener.transcript)")

        let writer = try OpenDHTNode.proxyClient(of: network.proxies[0])
        writer.send("p \(key) hello-from-one")
        #expect(await writer.waitFor("Put: success"), "\(writer.transcript)")

        // The bucket is a Carrier value on the DHT: the regular node finds it without any proxy.
        let bucketKey = try KeyPair(seed: Sodium.sha256(Array("carrier/opendht/v1/".utf8), try #require(Hex.decode(key))))
        #expect(await network.nodes[2].findValue(bucketKey.publicKey) != nil)

        let reader = try OpenDHTNode.proxyClient(of: network.proxies[1])
        reader.send("g \(key)")
        #expect(await reader.waitFor("data(text/plain):\"hello-from-one\""), "\(reader.transcript)")
        #expect(await reader.waitFor("Get: completed"), "\(reader.transcript)")

        #expect(await listener.waitFor("data(text/plain):\"hello-from-one\""), "\(listener.transcript)")
        writer.send("p \(key) later")
        #expect(await writer.waitFor("Put: success", count: 2), "\(writer.transcript)")
        #expect(await listener.waitFor("data(text/plain):\"later\""), "the listen stream hears a later put: \(listener.transcript)")
        await network.stop()
    }

    @Test func aListenHearsAValueExpire() async throws {
        try #require(OpenDHTNode.isInstalled, "dhtnode is missing: `make test` installs Debian's dhtnode package")
        // Values live 2 s here: the listener hears the put, then the expiry, with no other change.
        let network = try await TwoProxies.start(config: HostNetwork.openProxy + "valueSeconds = 2")
        let key = Hex.encode(Sodium.randomBytes(20))
        let listener = try OpenDHTNode.proxyClient(of: network.proxies[1])
        listener.send("l \(key)")
        #expect(await listener.waitFor("Listening, token"), "\(listener.transcript)")
        let writer = try OpenDHTNode.proxyClient(of: network.proxies[0])
        writer.send("p \(key) short-lived")
        #expect(await listener.waitFor("data(text/plain):\"short-lived\""), "\(listener.transcript)")
        #expect(await listener.waitFor(" expired", within: .seconds(10)), "the listen stream announces the expiry: \(listener.transcript)")
        await network.stop()
    }

    @Test func theOpenDHTRoutesAnswerAsOpenDHTsProxyDoes() async throws {
        let network = try await TwoProxies.start(config: HostNetwork.openProxy)
        let base = "http://" + network.proxies[0]
        let key = Hex.encode(Sodium.randomBytes(20))

        let info = try await Self.call("GET", base + "/node/info")
        #expect(info.status == 200 && info.body.contains(#""node_id":"\#(Hex.encode(network.nodes[0].id.bytes.prefix(20)))""#), "\(info)")
        let ipv4 = (try JSONSerialization.jsonObject(with: Data(info.body.utf8)) as? [String: Any])?["ipv4"] as? [String: Int]
        #expect((ipv4?["good"] ?? 0) >= 1, "OpenDHT clients take a proxy with good contacts as connected: \(info)")
        let root = try await Self.call("GET", base + "/")
        #expect(root.status == 200 && root.body.contains(#""node_id":"#), "\(root)")

        let put = try await Self.call("POST", base + "/key/\(key)", body: #"{"data":"aGVsbG8=","id":"0","type":0,"utype":"text/plain"}"#)
        #expect(put.status == 200 && put.body.hasPrefix(#"{"data":"aGVsbG8=","id":""#) && put.body.hasSuffix(#","type":0,"utype":"text/plain"}"# + "\n"), "\(put)")
        let named = try await Self.call("POST", base + "/key/\(key)", body: #"{"data":"d29ybGQ=","id":"77","permanent":true}"#)
        #expect(named.status == 200 && named.body == #"{"data":"d29ybGQ=","id":"77"}"# + "\n", "\(named)")
        let got = try await Self.call("GET", base + "/key/\(key)")
        let lines = got.body.split(separator: "\n")
        #expect(got.status == 200 && lines.count == 2 && lines.contains(#"{"data":"d29ybGQ=","id":"77"}"#), "\(got)")

        // The second proxy has never seen the key: its put tries to create the key's bucket
        // without reading, meets the first proxy's (a conflict), reads it and adds to it.
        let other = "http://" + network.proxies[1]
        let added = try await Self.call("POST", other + "/key/\(key)", body: #"{"data":"dGhpcmQ=","id":"78"}"#)
        #expect(added.status == 200, "\(added)")
        let merged = try await Self.call("GET", other + "/key/\(key)").body.split(separator: "\n")
        #expect(merged.count == 3 && merged.contains(#"{"data":"d29ybGQ=","id":"77"}"#) && merged.contains(#"{"data":"dGhpcmQ=","id":"78"}"#),
                "\(merged)")
        // The first proxy's own node held no bucket of the key (its puts went to the other nodes),
        // so it took the second proxy's refused create; the merged version replaced it there.
        let bucketOwner = try KeyPair(seed: Sodium.sha256(Array("carrier/opendht/v1/".utf8), try #require(Hex.decode(key))))
        let held = try #require(try network.nodes[0].storage.value(bucketOwner.publicKey, now: Int64(Date().timeIntervalSince1970 * 1000)))
        let heldText = String(decoding: held.data, as: UTF8.self)
        #expect(held.sequenceNumber == 3 && heldText.contains("d29ybGQ=") && heldText.contains("dGhpcmQ="), "seq \(held.sequenceNumber): \(heldText)")

        let stats = try await Self.call("GET", base + "/node/stats")
        #expect(stats.status == 200 && stats.body.contains(#""putCount":2"#) && stats.body.contains(#""totalPermanentPuts":1"#), "\(stats)")

        // A key holds what fits in one Carrier value: older values give way to newer ones.
        let crowded = Hex.encode(Sodium.randomBytes(20))
        for index in 0..<12 {
            let data = Data(repeating: UInt8(index), count: 90).base64EncodedString()
            #expect(try await Self.call("POST", base + "/key/\(crowded)", body: #"{"data":"\#(data)","id":"\#(index + 1)"}"#).status == 200)
        }
        let kept = try await Self.call("GET", base + "/key/\(crowded)").body.split(separator: "\n")
        #expect(kept.count >= 4 && kept.count < 12 && kept.contains { $0.contains(#""id":"12""#) } && !kept.contains { $0.contains(#""id":"1""#) },
                "\(kept)")

        // Anyone may write the Carrier value of a key (its seed is public): garbage there is
        // reported, and the next put replaces it.
        let vandalised = Hex.encode(Sodium.randomBytes(20))
        let owner = try KeyPair(seed: Sodium.sha256(Array("carrier/opendht/v1/".utf8), try #require(Hex.decode(vandalised))))
        _ = try await network.nodes[2].storeValue(Value.signed(by: owner, sequenceNumber: 5, data: Array("garbage".utf8)), persistent: false)
        let broken = try await Self.call("GET", base + "/key/\(vandalised)")
        #expect(broken.status == 502 && broken.body.contains("does not hold OpenDHT values"), "\(broken)")
        #expect(try await Self.call("POST", base + "/key/\(vandalised)", body: #"{"data":"aA==","id":"9"}"#).status == 200)
        #expect(try await Self.call("GET", base + "/key/\(vandalised)").body == #"{"data":"aA==","id":"9"}"# + "\n")

        let signedOwner = String(repeating: "A", count: 1200)
        let cases: [(String, String, String?, Int, String)] = [
            ("GET", "/key/abc", nil, 400, "is not a 40-digit hex key"),
            ("POST", "/key/\(key)", "{not json", 400, "the body is not JSON"),
            ("POST", "/key/\(key)", #"{"id":"1"}"#, 400, "a value needs data"),
            ("POST", "/key/\(key)", #"{"data":"%%%"}"#, 400, "data is not Base64"),
            ("POST", "/key/\(key)", #"{"data":"aA==","id":"-3"}"#, 400, "is not a 64-bit decimal number"),
            ("POST", "/key/\(key)", #"{"data":"aA==","colour":"red"}"#, 400, "unknown field"),
            ("POST", "/key/\(key)", #"{"data":"aA==","owner":"\#(signedOwner)","sig":"aA=="}"#, 413, "use the native /v1 API"),
            ("POST", "/key/\(key)", #"{"data":"aA==","type":18446744073709551615}"#, 400, "type must be"),
            ("DELETE", "/key/\(key)", nil, 405, "is not allowed on"),
            ("GET", "/key/\(key)/other", nil, 404, "is not an OpenDHT proxy route"),
        ]
        for (method, path, body, status, message) in cases {
            let answer = try await Self.call(method, base + path, body: body)
            #expect(answer.status == status && answer.body.hasPrefix(#"{"err":"#) && answer.body.contains(message), "\(method) \(path): \(answer)")
        }
        await network.stop()
    }
}
