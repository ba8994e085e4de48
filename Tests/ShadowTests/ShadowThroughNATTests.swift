import CarrierCore
import Foundation
import Testing
import TestSupport

/// Shadow through a real NAT (TestSupport's NetworkLab): a web server in "home", behind a
/// masquerading router, is exposed with `carrier shadow expose` through a supernode (`carrier run`
/// with the Shadow plugin) in "public", where an outside client fetches it. The client finds the
/// supernode on the DHT, and the mapping comes back on the same endpoint after a supernode
/// restart and after the router's state is flushed or its public address changes. A DNS-like UDP
/// service in "home" is exposed and answered the same way.
@Suite(.serialized) struct ShadowThroughNATTests {
    static let python = "/usr/bin/python3"
    static let peer = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("lab_peer.py").path

    /// `count` DNS-like queries from the outside client's address to `host:port` (lab_peer.py
    /// udp-ask); whether every one got its answer.
    static func ask(_ lab: NetworkLab, _ host: String, _ port: Int, count: Int = 20) async throws -> Bool {
        try await lab.run(in: .public, python, [peer, "udp-ask", host, "\(port)", "\(count)"]).status == 0
    }

    /// An HTTP GET from the outside client's address; the body, or nil.
    static func fetch(_ lab: NetworkLab, _ url: String) async throws -> String? {
        let script = """
            import socket, sys, urllib.request
            socket.setdefaulttimeout(3)
            try:
                print(urllib.request.urlopen(sys.argv[1]).read().decode(), end="")
            except Exception as error:
                print("failed:", error, file=sys.stderr); sys.exit(1)
            """
        let outcome = try await lab.run(in: .public, python, ["-c", script, url])
        return outcome.status == 0 ? outcome.stdout : nil
    }

    /// A supernode's folder: node.toml on the supernode's lab address and the Shadow manifest.
    static func supernodeFolder(_ lab: NetworkLab) async throws -> String {
        let folder = NSTemporaryDirectory() + "carrier-shadow-nat-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try """
            data_dir = "data"
            listen = ["\(lab.supernodeAddress):39001"]
            allow_local = true
            public_host = "\(lab.supernodeAddress)"
            """.write(toFile: folder + "/node.toml", atomically: true, encoding: .utf8)
        let library = try CPlugins.shadow()
        try """
            id = "org.carrier.shadow"
            version = "0.1.0"
            library = "\(library)"
            sha256 = "\(Sodium.sha256(ofFile: library)!.map { String(format: "%02x", $0) }.joined())"
            [config]
            host = "\(lab.supernodeAddress)"
            port = 39300
            publicPorts = "40000-40009"
            """.write(toFile: folder + "/shadow.toml", atomically: true, encoding: .utf8)
        return folder
    }

    /// The node id `carrier id` prints for the key in `dataDirectory` (made if missing).
    static func nodeId(_ dataDirectory: String) async throws -> String {
        try #require(try await CarrierBinary.run(["id", "--data-dir", dataDirectory]).standardOutput
            .split(separator: "\n").first.map(String.init))
    }

    /// `carrier run` of the supernode folder in "public", once Shadow's tunnel port listens.
    static func startSupernode(_ lab: NetworkLab, _ folder: String) async throws -> ChildProcess {
        let supernode = try lab.launch(in: .public, CarrierBinary.path, ["run", "--manifests", folder])
        #expect(await supernode.waitFor("shadow: tunnel port 39300"), "\(supernode.transcript)")
        return supernode
    }

    /// Runs `body` with a new lab, a supernode folder and the `--bootstrap` arguments that join
    /// the DHT through that supernode; removes the lab however `body` ends.
    static func withLab(_ body: (NetworkLab, _ folder: String, _ bootstrap: [String]) async throws -> Void) async throws {
        let lab = try await NetworkLab.makeOrSkip()
        do {
            let folder = try await supernodeFolder(lab)
            let bootstrap = ["--bootstrap", "\(try await nodeId(folder + "/data"))@\(lab.supernodeAddress):39001", "--allow-local"]
            try await body(lab, folder, bootstrap)
        } catch {
            await lab.remove()
            throw error
        }
        await lab.remove()
    }

    @Test func aHomeWebServerIsReachedThroughTheSupernodeAndComesBackAfterRestartsAndNetworkChanges() async throws {
        try await Self.withLab { lab, folder, bootstrap in
            var supernode = try await Self.startSupernode(lab, folder)

            let site = NSTemporaryDirectory() + "carrier-shadow-site-\(UUID().uuidString)"
            try FileManager.default.createDirectory(atPath: site, withIntermediateDirectories: true)
            let page = "hello from behind the NAT \(UUID().uuidString)\n"
            try page.write(toFile: site + "/index.html", atomically: true, encoding: .utf8)
            let web = try lab.launch(in: .home, Self.python, ["-m", "http.server", "--bind", lab.homeAddress, "--directory", site, "8080"])
            #expect(await web.waitFor("Serving HTTP"), "\(web.transcript)")

            // The outside client cannot reach the home server directly.
            #expect(try await Self.fetch(lab, "http://\(lab.homeAddress):8080/") == nil)

            let home = NSTemporaryDirectory() + "carrier-shadow-home-\(UUID().uuidString)"
            let homeId = try await Self.nodeId(home)
            let expose = try lab.launch(in: .home, CarrierBinary.path, [
                "shadow", "expose", "tcp://\(lab.homeAddress):8080", "--name", "web", "--data-dir", home] + bootstrap)
            let endpoint = try await expose.waitForLine(within: .seconds(30)) { $0.hasPrefix("tcp://\(lab.supernodeAddress):") }
            let url = "http://" + endpoint.dropFirst("tcp://".count) + "/"
            #expect(try await Self.fetch(lab, url) == page, "through the supernode")
            #expect(await expose.waitFor("announced \(endpoint)"), "\(expose.transcript)")

            // A friend who knows only the home node's id reaches the server through a local port.
            let connect = try lab.launch(in: .public, CarrierBinary.path, [
                "shadow", "connect", homeId, "--name", "web", "--local", "\(lab.outsideAddress):9000"] + bootstrap)
            _ = try await connect.waitForLine(within: .seconds(30)) { $0 == "\(lab.outsideAddress):9000" }
            #expect(try await Self.fetch(lab, "http://\(lab.outsideAddress):9000/") == page, "\(connect.transcript)")

            // The supernode restarts: the mapping comes back on the same endpoint.
            supernode.stop()
            supernode = try await Self.startSupernode(lab, folder)
            func exposures() -> Int { expose.transcript.split(separator: "\n").filter { $0 == endpoint }.count }
            #expect(await eventually(within: .seconds(40)) { exposures() == 2 }, "\(expose.transcript)")
            #expect(try await Self.fetch(lab, url) == page, "after the supernode's restart")

            // The router forgets its mappings, then moves to a new public address.
            try await lab.flushRouterState()
            #expect(await eventually(within: .seconds(60)) { (try? await Self.fetch(lab, url)) == page }, "after a flush")
            _ = try await lab.changeRouterPublicAddress()
            #expect(await eventually(within: .seconds(90)) { (try? await Self.fetch(lab, url)) == page }, "\(expose.transcript)")
            #expect(expose.transcript.components(separatedBy: "\n").filter { $0.hasPrefix("tcp://") }.allSatisfy { $0 == endpoint },
                    "one endpoint throughout:\n\(expose.transcript)")
            #expect(try await Self.fetch(lab, "http://\(lab.outsideAddress):9000/") == page, "\(connect.transcript)")
            connect.stop()
            expose.stop()
            supernode.stop()
            web.stop()
        }
    }

    @Test func aHomeUDPServiceAnswersOutsideQueriesThroughTheSupernodeAndAfterAFlush() async throws {
        try await Self.withLab { lab, folder, bootstrap in
            let supernode = try await Self.startSupernode(lab, folder)
            let dns = try lab.launch(in: .home, Self.python, [Self.peer, "udp-answer", lab.homeAddress, "5353"])
            #expect(await dns.waitFor("listening"), "\(dns.transcript)")
            #expect(try await !Self.ask(lab, lab.homeAddress, 5353, count: 1), "the home service is out of reach from outside")

            let home = NSTemporaryDirectory() + "carrier-shadow-home-\(UUID().uuidString)"
            let expose = try lab.launch(in: .home, CarrierBinary.path, [
                "shadow", "expose", "udp://\(lab.homeAddress):5353", "--name", "dns", "--data-dir", home] + bootstrap)
            let endpoint = try await expose.waitForLine(within: .seconds(30)) { $0.hasPrefix("udp://\(lab.supernodeAddress):") }
            let port = try #require(Int(endpoint.split(separator: ":").last ?? ""))
            #expect(try await Self.ask(lab, lab.supernodeAddress, port), "through the supernode:\n\(expose.transcript)")

            // The router forgets its mappings: the tunnel comes back and so do the answers.
            try await lab.flushRouterState()
            #expect(await eventually(within: .seconds(60)) { (try? await Self.ask(lab, lab.supernodeAddress, port, count: 3)) == true },
                    "after a flush:\n\(expose.transcript)")
            #expect(try await Self.ask(lab, lab.supernodeAddress, port), "\(expose.transcript)")
            expose.stop()
            supernode.stop()
            dns.stop()
        }
    }
}
