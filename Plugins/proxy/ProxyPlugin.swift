import CarrierPluginABI
import CarrierPluginSDK
import Foundation

/// The DHT proxy (issue #6, first step): light nodes reach the DHT over HTTP through this
/// supernode. Config: `host` (default "0.0.0.0") and `port` (default 39200; 0 picks one). It
/// announces service `proxy` at `http://{host}:PORT`.
final class ProxyPlugin: CarrierPlugin, @unchecked Sendable {
    // @unchecked: `server` is set in start and cleared in stop, both on the host's executor.
    static let id = "org.carrier.proxy"
    static let version = "0.1.0"
    static let summary = "DHT proxy for light nodes over HTTP"
    static let capabilities: PluginCapabilities = [.service]

    private let host: CarrierHostAPI
    private let address: String
    private let port: Int
    private var server: HTTPServer?

    init(host: CarrierHostAPI, configJSON: String) throws {
        self.host = host
        guard let config = (try? JSONSerialization.jsonObject(with: Data(configJSON.utf8))) as? [String: Any] else {
            throw PluginError("the config is not a JSON object")
        }
        guard let address = config["host"].map({ $0 as? String }) ?? "0.0.0.0" else { throw PluginError("config.host must be a string") }
        guard let port = config["port"].map({ $0 as? Int }) ?? 39200 else { throw PluginError("config.port must be an integer") }
        guard (0...65535).contains(port) else { throw PluginError("config.port \(port) is not a TCP port") }
        self.address = address
        self.port = port
    }

    func start() throws {
        let routes = ProxyRoutes(host: host, version: Self.version)
        let server = try HTTPServer(host: address, port: port) { await routes.respond($0) }
        self.server = server
        try host.announceService("proxy", endpoint: "http://{host}:\(server.port)")
        host.log(.info, "proxy serving on \(address):\(server.port)")
    }

    func stop() {
        try? host.withdrawService("proxy")
        server?.close()
        server = nil
    }

    func health() -> (PluginHealth, String) {
        guard let server else { return (.failing, "not serving") }
        return (.ok, "serving HTTP on port \(server.port)")
    }
}

@_cdecl("carrier_plugin_entry_v1")
public func carrierPluginEntry(_ api: UnsafePointer<carrier_host_api_v1>?) -> UnsafePointer<carrier_plugin_v1>? {
    PluginExport.entry(ProxyPlugin.self, api)
}
