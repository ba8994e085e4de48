import CarrierCore
import CarrierDHT
@testable import CarrierHost
import Foundation
import TestSupport
import Testing

/// A supernode on loopback whose proxy runs in a plugin runner (or in process), as an attacker
/// finds it, with what the adversarial tests measure: the runner's pid and resident memory, its
/// losses, the plugin's counters on `/metrics`, and a legitimate client's requests.
struct AttackedProxy {
    let network: HostNetwork
    let host: PluginHost
    let port: Int

    static let id = "org.carrier.proxy"

    /// `config` is the proxy's `[config]` (TOML lines); `host` and `port` are added. `runner` is
    /// the executable the plugin runner starts as (`carrier` by default).
    static func start(config: String = "", isolation: PluginManifest.Isolation = .process,
                      runner: String = CarrierBinary.path) async throws -> AttackedProxy {
        let network = try await HostNetwork.start()
        let host = PluginHost(environment: network.environment, runnerSettings: RunnerSettings(executable: runner))
        await host.apply([try HostNetwork.manifest(library: try CPlugins.proxy(), id: id, config: "host = \"127.0.0.1\"\nport = 0\n" + config,
                                                   isolation: isolation)])
        let endpoint = try #require(network.environment.services.announced.first { $0.type == "proxy" }?.endpoint)
        return AttackedProxy(network: network, host: host, port: try #require(Int(endpoint.split(separator: ":").last ?? "")))
    }

    /// The runner's condition (process isolation).
    var runner: IsolatedPlugin.Condition? {
        get async { (await host.instance(Self.id) as? IsolatedPlugin)?.condition }
    }

    /// The CPU time the runner has used, in seconds.
    var runnerCPUSeconds: Double {
        get async throws {
            let pid = try #require(await runner?.pid)
            let stat = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
            // The fields after the command's closing parenthesis; utime and stime are 14th and 15th.
            let fields = stat[stat.index(after: try #require(stat.lastIndex(of: ")")))...].split(separator: " ")
            return (Double(fields[11])! + Double(fields[12])!) / Double(sysconf(Int32(_SC_CLK_TCK)))
        }
    }

    /// The runner's resident memory, in MiB.
    var residentMiB: Double {
        get async throws {
            let pid = try #require(await runner?.pid)
            let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
            let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") })
            return Double(line.split(whereSeparator: \.isWhitespace)[1])! / 1024
        }
    }

    /// A plugin counter from `/metrics` (`carrier_plugin_NAME`), once the proxy reported it.
    func counter(_ name: String) -> Double {
        let prefix = "carrier_plugin_\(name){plugin=\"\(Self.id)\"} "
        let line = network.environment.metrics.prometheusText().split(separator: "\n").first { $0.hasPrefix(prefix) }
        return line.flatMap { Double($0.dropFirst(prefix.count)) } ?? 0
    }

    /// One request on a new connection: the status code (0 if none came within `timeout`).
    func status(_ target: String, headers: String = "", timeout: Double = 5) async throws -> Int {
        let client = try RawTCPClient(port: port)
        try client.send("GET \(target) HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\(headers)\r\n")
        let text = try await client.drainText(timeout: timeout).text
        return text.hasPrefix("HTTP/1.1 ") ? Int(text.dropFirst(9).prefix(3)) ?? 0 : 0
    }

    /// One request on a new connection: the status code and the body.
    func call(_ method: String, _ target: String, body: String = "", headers: String = "") async throws -> (status: Int, body: String) {
        let client = try RawTCPClient(port: port)
        try client.send("\(method) \(target) HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: \(body.utf8.count)\r\n\(headers)\r\n\(body)")
        let text = try await client.drainText(timeout: 5).text
        let status = text.hasPrefix("HTTP/1.1 ") ? Int(text.dropFirst(9).prefix(3)) ?? 0 : 0
        return (status, text.components(separatedBy: "\r\n\r\n").dropFirst().joined(separator: "\r\n\r\n"))
    }

    /// A light node's session token, opened as a client would (challenge, signature, session).
    func session(of light: KeyPair = .random()) async throws -> String {
        let challenge = try await call("GET", "/v1/auth/challenge")
        let fields = try #require(try JSONSerialization.jsonObject(with: Data(challenge.body.utf8)) as? [String: Any])
        let text = try #require(fields["challenge"] as? String), bytes = try #require(Base64URL.decode(text))
        let signature = light.sign(Array("carrier-proxy-auth/v1".utf8) + network.host.id.bytes + bytes)
        let body = #"{"node":"\#(light.publicKey.base58)","challenge":"\#(text)","signature":"\#(Base64URL.encode(signature))"}"#
        let opened = try await call("POST", "/v1/auth/session", body: body)
        let session = try #require(try JSONSerialization.jsonObject(with: Data(opened.body.utf8)) as? [String: Any])
        return try #require(session["token"] as? String, "\(opened)")
    }

    func stop() async {
        await host.stopAll()
        await network.stop()
    }
}
