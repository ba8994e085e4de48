import CarrierCore
import Foundation
@testable import CarrierHost
@testable import CarrierShadow
import NIOCore
import NIOPosix
import TestSupport
import Testing

/// Shadow's shared HTTP and TLS ports (docs/shadow.md, "Virtual hosts"): each client's TCP
/// mapping is a host name under the supernode's domain, and a request reaches the mapping its
/// `Host` names, a TLS connection the mapping its ClientHello's server name names.
@Suite(.serialized)
struct ShadowVirtualHostTests {
    typealias Supernode = ShadowRelayTests.Supernode
    static let group = ShadowRelayTests.group

    /// A web server that answers every connection's first bytes with `body` and closes.
    final class Greeter: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let body: String
        init(_ body: String) { self.body = body }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let answer = "HTTP/1.1 200 OK\r\ncontent-length: \(body.utf8.count)\r\nconnection: close\r\n\r\n\(body)"
            let channel = context.channel
            context.writeAndFlush(NIOAny(ByteBuffer(string: answer))).whenComplete { _ in channel.close(promise: nil) }
        }
    }

    static func greeter(_ body: String) async throws -> Channel {
        try await ServerBootstrap(group: group)
            .childChannelInitializer { channel in channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Greeter(body)) } }
            .bind(host: "127.0.0.1", port: 0).get()
    }

    /// What the shared port answers `request`.
    static func ask(_ port: Int, _ request: String) async throws -> String {
        let connection = try RawTCPClient(port: port)
        defer { connection.close() }
        try connection.send(request)
        return try await connection.drainText(timeout: 5).text
    }

    @Test func requestsReachTheMappingTheirHostNamesAndNoOther() async throws {
        // A port free now (the kernel's pick, let go), as an operator's fixed httpPort.
        let probe = try await ServerBootstrap(group: Self.group).bind(host: "127.0.0.1", port: 0).get()
        let httpPort = try #require(probe.localAddress?.port)
        try await probe.close()
        try await Supernode.with(config: "httpPort = \(httpPort)\nhttpDomain = \"shadow.test\"\ndenySources = \"127.0.0.9\"\n") { node in
            let servers = [try await Self.greeter("alice's site"), try await Self.greeter("bob's site")]
            let identities = [KeyPair.random(), KeyPair.random()]
            var running: [Task<ShadowClient.Ended, Never>] = [], urls: [String] = []
            for (identity, server) in zip(identities, servers) {
                let service = ShadowService(name: "web", targetHost: "127.0.0.1", targetPort: try #require(server.localAddress?.port))
                let client = ShadowClient(identity: identity, supernode: node.supernode, services: [service], group: Self.group)
                let (endpoints, _, task) = try await ShadowRelayTests.expose(client)
                running.append(task)
                urls.append(try #require(endpoints.first?.http, "a TCP mapping has a virtual host: \(endpoints)"))
            }
            let hosts = identities.map { "web.\(VirtualHosts.label($0.publicKey)).shadow.test" }
            #expect(urls == hosts.map { "http://\($0):\(httpPort)" })
            #expect(hosts.allSatisfy { $0.split(separator: ".")[1].count == 32 })

            // Each host reaches its own client's server; case, a port and a trailing dot do not matter.
            #expect(try await Self.ask(httpPort, "GET / HTTP/1.1\r\nHost: \(hosts[0]):\(httpPort)\r\n\r\n").hasSuffix("alice's site"))
            #expect(try await Self.ask(httpPort, "GET / HTTP/1.1\r\nhost:  \(hosts[1].uppercased()).\r\nAccept: */*\r\n\r\n").hasSuffix("bob's site"))
            #expect(node.counter("http_routed") == 2)

            // Unknown hosts and broken heads get an answer, not a hang.
            #expect(try await Self.ask(httpPort, "GET / HTTP/1.1\r\nHost: web.nobody.shadow.test\r\n\r\n").hasPrefix("HTTP/1.1 404 "))
            #expect(try await Self.ask(httpPort, "GET / HTTP/1.1\r\nHost: a\r\nHost: \(hosts[0])\r\n\r\n").hasPrefix("HTTP/1.1 400 "))
            #expect(try await Self.ask(httpPort, "NONSENSE\r\n\r\n").hasPrefix("HTTP/1.1 400 "))
            #expect(try await Self.ask(httpPort, "GET / HTTP/1.1\r\nX: " + String(repeating: "a", count: 20_000)).hasPrefix("HTTP/1.1 431 "))
            #expect(node.counter("http_unknown_host") == 1 && node.counter("http_malformed") == 3)

            // The operator's denylist holds at accept, before any head is read.
            let denied = try RawTCPClient(port: httpPort, source: "127.0.0.9")
            try? denied.send("GET / HTTP/1.1\r\nHost: \(hosts[0])\r\n\r\n")
            let answer = try await denied.drain(timeout: 5)
            #expect(answer.ended && answer.bytes.isEmpty)
            #expect(node.counter("refused_source") == 1)

            // A client that leaves takes its name with it.
            running[0].cancel()
            _ = await running[0].value
            #expect(await eventually {
                (try? await Self.ask(httpPort, "GET / HTTP/1.1\r\nHost: \(hosts[0])\r\n\r\n"))?.hasPrefix("HTTP/1.1 404 ") == true
            })
            #expect(try await Self.ask(httpPort, "GET / HTTP/1.1\r\nHost: \(hosts[1])\r\n\r\n").hasSuffix("bob's site"))
            running[1].cancel()
            _ = await running[1].value
            for server in servers { try? await server.close() }
        }
    }

    static let tlsPeer = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("tls_peer.py").path

    /// What tls_peer.py's `ask` prints for a TLS connection to `port` naming `name`.
    static func askTLS(_ port: Int, _ name: String, trusting ca: String, _ text: String) throws -> String {
        try ChildProcess.output("/usr/bin/python3", [tlsPeer, "ask", "\(port)", name, ca, text]).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test func tlsConnectionsReachTheMappingTheirServerNameNamesUnterminated() async throws {
        let probe = try await ServerBootstrap(group: Self.group).bind(host: "127.0.0.1", port: 0).get()
        let tlsPort = try #require(probe.localAddress?.port)
        try await probe.close()
        try await Supernode.with(config: "tlsPort = \(tlsPort)\nhttpDomain = \"shadow.test\"\n") { node in
            // The home service holds its own certificate for its name: the supernode never sees a key.
            let identity = KeyPair.random()
            let name = "web.\(VirtualHosts.label(identity.publicKey)).shadow.test"
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tls-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: folder) }
            _ = try ChildProcess.output("/usr/bin/openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                                                            "-keyout", "\(folder)/key.pem", "-out", "\(folder)/cert.pem", "-days", "1",
                                                            "-subj", "/CN=\(name)", "-addext", "subjectAltName=DNS:\(name)"])
            let server = try ChildProcess.start("/usr/bin/python3", [Self.tlsPeer, "serve", "\(folder)/cert.pem", "\(folder)/key.pem"])
            defer { server.stop() }
            let listening = try await server.waitForLine { $0.hasPrefix("port ") }
            let port = try #require(Int(listening.dropFirst(5)))

            let service = ShadowService(name: "web", targetHost: "127.0.0.1", targetPort: port)
            let client = ShadowClient(identity: identity, supernode: node.supernode, services: [service], group: Self.group)
            let (endpoints, _, running) = try await ShadowRelayTests.expose(client)
            #expect(endpoints.first?.https == "https://\(name):\(tlsPort)" && endpoints.first?.http == nil, "\(endpoints)")

            // The client verifies the home service's certificate through the supernode, end to end.
            #expect(try Self.askTLS(tlsPort, name, trusting: "\(folder)/cert.pem", "hello") == "tls: hello")
            #expect(try Self.askTLS(tlsPort, name.uppercased(), trusting: "\(folder)/cert.pem", "again") == "tls: again")
            #expect(node.counter("tls_routed") == 2)

            // A name no client holds is refused with TLS's own alert; so is what is not TLS.
            let unknown = try Self.askTLS(tlsPort, "web.nobody.shadow.test", trusting: "\(folder)/cert.pem", "x")
            #expect(unknown == "alert: TLSV1_UNRECOGNIZED_NAME", "\(unknown)")
            #expect(node.counter("tls_unknown_host") == 1)
            let plain = try RawTCPClient(port: tlsPort)
            try plain.send("GET / HTTP/1.1\r\nHost: \(name)\r\n\r\n")
            #expect(try await plain.drain(timeout: 5).bytes == [21, 3, 3, 0, 2, 2, 50], "a decode_error alert")
            plain.close()
            #expect(node.counter("tls_malformed") == 1)
            running.cancel()
            _ = await running.value
        }
    }

    @Test func theHostNameOfAClientIsItsIdInBase32() throws {
        let id = try #require(Id(bytes: Array(0..<32)))
        // RFC 4648 base32 of bytes 0...19.
        #expect(VirtualHosts.label(id) == "aaaqeayeaudaocajbifqydiob4ibceqt")
        #expect(VirtualHosts.isValidDomain("shadow.example.net") && VirtualHosts.isValidDomain("shadow.localhost"))
        #expect(!VirtualHosts.isValidDomain("Shadow.Example") && !VirtualHosts.isValidDomain("-a.b") && !VirtualHosts.isValidDomain("a..b"))
        #expect(HTTPHead.host(in: Array("GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n".utf8)) == "[::1]")
        #expect(HTTPHead.host(in: Array("GET / HTTP/1.1\r\nHost: a:b\r\n\r\n".utf8)) == nil)
        #expect(HTTPHead.host(in: Array("GET / HTTP/1.0\r\n\r\n".utf8)) == nil)
        #expect(HTTPHead.host(in: Array("GET / HTTP/1.1\r\nHost: a.b:8080\r\n\r\n".utf8)) == "a.b")
        for broken in ["Host : a.b", "Host: a.b:", "Host: a b", "Host: \u{212A}.b", "Host: a.b\nX: y", "Ho st: a.b"] {
            #expect(HTTPHead.host(in: Array("GET / HTTP/1.1\r\n\(broken)\r\n\r\n".utf8)) == nil, "\(broken)")
        }
    }
}
