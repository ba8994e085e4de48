import CarrierCore
import CarrierDHT
@testable import CarrierHost
@testable import CarrierShadow
import Foundation
import Synchronization
import NIOCore
import NIOPosix
import TestSupport
import Testing

/// The Shadow plugin on a supernode, with a real `ShadowClient` exposing a local echo server
/// through it and outside clients connecting to the public port (docs/shadow.md).
@Suite(.serialized)
struct ShadowRelayTests {
    /// A supernode running the Shadow plugin, and what a client needs to reach it.
    struct Supernode {
        let network: HostNetwork
        let host: PluginHost
        let supernode: ShadowSupernode
        let manifest: PluginManifest

        static func start(isolation: PluginManifest.Isolation = .inProcess, ports: Int = 21, config extra: String = "") async throws -> Supernode {
            let network = try await HostNetwork.start()
            // Public ports below Linux's ephemeral range, at a random place so runs do not collide.
            let low = Int.random(in: 20_000...30_000)
            // A fixed tunnel port, as an operator configures it: a restarted plugin listens on it again.
            let config = "host = \"127.0.0.1\"\nport = \(low + 25)\npublicPorts = \"\(low)-\(low + ports - 1)\"\n" + extra
            let manifest = try HostNetwork.manifest(library: try CPlugins.shadow(), id: "org.carrier.shadow", config: config, isolation: isolation)
            let host = PluginHost(environment: network.environment, runnerSettings: RunnerSettings(executable: CarrierBinary.path))
            await host.apply([manifest])
            let status = await host.status
            #expect(status.first?.state == .running, "\(status)")
            let endpoint = try #require(network.environment.services.announced.first { $0.type == "shadow" }?.endpoint)
            let port = try #require(Int(endpoint.split(separator: ":").last ?? ""), "\(endpoint)")
            return Supernode(network: network, host: host, supernode: ShadowSupernode(id: network.host.id, host: "127.0.0.1", port: port),
                             manifest: manifest)
        }

        func stop() async {
            await host.stopAll()
            await network.stop()
        }

        /// Runs `body` with a started supernode, stopping it however `body` ends (a plugin's
        /// event loops left running would keep the test process alive).
        static func with(isolation: PluginManifest.Isolation = .inProcess, ports: Int = 21, config: String = "",
                         _ body: (Supernode) async throws -> Void) async throws {
            let node = try await start(isolation: isolation, ports: ports, config: config)
            do {
                try await body(node)
            } catch {
                await node.stop()
                throw error
            }
            await node.stop()
        }

        func counter(_ name: String) -> Double { network.environment.metrics.counter("shadow_" + name, plugin: manifest.id) ?? 0 }
    }

    /// What a running client reported, for tests to wait on.
    final class Events: Sendable {
        private let seen = Mutex<[ShadowClient.Event]>([])
        func record(_ event: ShadowClient.Event) { seen.withLock { $0.append(event) } }
        var all: [ShadowClient.Event] { seen.withLock { $0 } }
        /// The endpoints of the latest `exposed`.
        var endpoints: [PublicEndpoint]? {
            all.reversed().lazy.compactMap { if case .exposed(let endpoints) = $0 { endpoints } else { nil } }.first
        }
        var exposedCount: Int { all.filter { if case .exposed = $0 { true } else { false } }.count }
    }

    /// Runs `client` until it reports its endpoints; returns them, its events and the task running it.
    static func expose(_ client: ShadowClient) async throws -> ([PublicEndpoint], Events, Task<ShadowClient.Ended, Never>) {
        let events = Events()
        let running = Task { await client.run { events.record($0) } }
        #expect(await eventually(within: .seconds(10)) { events.endpoints != nil }, "the client was not exposed: \(events.all)")
        return (try #require(events.endpoints), events, running)
    }

    static let group = MultiThreadedEventLoopGroup.singleton

    @Test(arguments: PluginHostTests.isolations)
    func twoHundredConcurrentConnectionsGetExactlyTheirBytesBackAndAreBilled(isolation: PluginManifest.Isolation) async throws {
        // 200 connections at once from one address to one mapping: more than the default
        // per-source burst (150) and cap (128).
        try await Supernode.with(isolation: isolation, config: "connectionsPerSourcePerMinute = 1200\nstreamsPerMapping = 256\n") { node in
        let echo = try await TCPEchoServer(group: Self.group)
        let identity = KeyPair.random()
        let client = ShadowClient(identity: identity, supernode: node.supernode,
                                  services: [ShadowService(name: "echo", targetHost: "127.0.0.1", targetPort: echo.port)], group: Self.group)
        let (endpoints, _, running) = try await Self.expose(client)
        let endpoint = try #require(endpoints.first)
        #expect(endpoints.count == 1 && endpoint.name == "echo" && endpoint.host == "127.0.0.1", "\(endpoints)")

        // 200 at once, 1 byte to 256 KiB each, half-closed after sending: each must get exactly
        // its own bytes back (compared by hash), through the supernode and the client.
        let sizes = (0..<200).map { $0 == 0 ? 1 : Int.random(in: 1...262_144) }
        let results = try await withThrowingTaskGroup(of: Bool.self) { group in
            for size in sizes {
                group.addTask {
                    let payload = Sodium.randomBytes(size)
                    let back = try await TCPExchange.run(port: Int(endpoint.port), payload: payload, group: Self.group)
                    return Sodium.sha256(back) == Sodium.sha256(payload)
                }
            }
            return try await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(results.count == 200 && results.allSatisfy { $0 }, "\(results.filter { !$0 }.count) of 200 streams got other bytes")
        let relayed = sizes.reduce(0, +)
        #expect(await eventually { client.statistics.openStreams == 0 && client.statistics.bytesToPublic == relayed }, "\(client.statistics)")
        #expect(client.statistics.streams == 200 && client.statistics.bytesFromPublic == relayed)

        // The supernode billed the client for every byte, both ways, by the host's own count of
        // each public socket (the kernel's, not the plugin's): each connection's FIN, sent while
        // it is open, counts one byte more.
        #expect(await eventually { node.counter("sockets_host_counted") == 200 }, "\(node.counter("sockets_host_counted"))")
        #expect(node.counter("sockets_plugin_counted") == 0)
        var billed: Int64 = 0
        #expect(await eventually(within: .seconds(10)) {
            _ = try? node.network.environment.billing.flush()
            let totals = try? node.network.environment.billing.ledger.totals(client: identity.publicKey)
            billed = totals?.usage.first { $0.meter == "bytes_relayed" }?.units ?? 0
            return billed == Int64(2 * relayed + 200)
        }, "billing totals equal the bytes relayed (\(2 * relayed), and 200 FINs): \(billed)")
        #expect(await eventually { node.network.environment.sockets.totals.counting == 0 }, "\(node.network.environment.sockets.totals)")
        running.cancel()
        #expect(await running.value == .cancelled)
        await echo.close()
        }
    }

    @Test(arguments: PluginHostTests.isolations)
    func aUDPServiceAnswersEachOutsideSenderOnItsOwnAndIsBilled(isolation: PluginManifest.Isolation) async throws {
        try await Supernode.with(isolation: isolation) { node in
            let dns = try await UDPEchoServer(group: Self.group)
            let identity = KeyPair.random()
            let client = ShadowClient(identity: identity, supernode: node.supernode, services: [
                ShadowService(name: "dns", transport: .udp, targetHost: "127.0.0.1", targetPort: dns.port)], group: Self.group)
            let (endpoints, _, running) = try await Self.expose(client)
            let endpoint = try #require(endpoints.first)
            #expect(endpoint.transport == .udp && endpoint.description.hasPrefix("udp://127.0.0.1:"), "\(endpoint)")

            // Three outside senders. Each probes until the datagram connection is up (datagrams
            // before it are dropped, as UDP may), then sends 20 queries: each gets exactly its own
            // 20 answers, and the service saw three senders, not one.
            var askers: [UDPQuerier] = []
            for _ in 0..<3 { askers.append(try await UDPQuerier(port: Int(endpoint.port), group: Self.group)) }
            for asker in askers {
                #expect(await eventually(within: .seconds(10)) {
                    if asker.received.isEmpty { asker.send(Array("probe".utf8)) }
                    return !asker.received.isEmpty
                })
            }
            let probes = askers.map { $0.received.count }
            for (index, asker) in askers.enumerated() {
                for query in 0..<20 { asker.send(Array("query \(index)-\(query)".utf8)) }
            }
            #expect(await eventually { zip(askers, probes).allSatisfy { $0.received.count >= $1 + 20 } },
                    "\(askers.map { $0.received.count })")
            for (index, asker) in askers.enumerated() {
                let answers = asker.received.dropFirst(probes[index]).map { String(decoding: $0, as: UTF8.self) }
                #expect(answers == (0..<20).map { "answer query \(index)-\($0)" }, "sender \(index)")
            }
            #expect(dns.sources.count == 3, "\(dns.sources)")

            // Billed: every query the service answered, and its answer (each answer is the query
            // with 7 bytes more), reported when the mapping closes.
            let relayed = askers.flatMap(\.received).reduce(0) { $0 + 2 * $1.count - 7 }
            running.cancel()
            #expect(await running.value == .cancelled)
            #expect(await eventually(within: .seconds(10)) {
                _ = try? node.network.environment.billing.flush()
                let totals = try? node.network.environment.billing.ledger.totals(client: identity.publicKey)
                return totals?.usage.first { $0.meter == "bytes_relayed" }?.units == Int64(relayed)
            }, "billing totals equal the bytes relayed (\(relayed))")
            for asker in askers { await asker.close() }
            await dns.close()
        }
    }

    @Test func theMappingKeepsItsPublicPortAcrossReconnectsAndSupernodeRestarts() async throws {
        try await Supernode.with { node in
            let echo = try await TCPEchoServer(group: Self.group)
            let identity = KeyPair.random()
            let services = [ShadowService(name: "echo", targetHost: "127.0.0.1", targetPort: echo.port)]
            var delays = ReconnectDelays()
            delays.steps = [.milliseconds(200)]
            delays.ceiling = .milliseconds(200)
            let client = ShadowClient(identity: identity, supernode: node.supernode, services: services, group: Self.group, delays: delays)
            let (endpoints, events, running) = try await Self.expose(client)
            let port = try #require(endpoints.first?.port)

            // Another node asking for the same name gets another port: ports belong to node ids.
            let other = ShadowClient(identity: KeyPair.random(), supernode: node.supernode, services: services, group: Self.group)
            let (otherEndpoints, _, otherRunning) = try await Self.expose(other)
            #expect(otherEndpoints.first?.port != port)
            otherRunning.cancel()

            // The supernode restarts (the plugin stops and starts on the same storage): the client
            // comes back by itself, on the same port, and serves.
            await node.host.apply([])
            await node.host.apply([node.manifest])
            #expect(await eventually(within: .seconds(15)) { events.exposedCount >= 2 }, "\(events.all)")
            #expect(events.endpoints?.first?.port == port, "\(events.all)")
            #expect(events.all.contains { if case .disconnected = $0 { true } else { false } })
            let payload = Sodium.randomBytes(10_000)
            #expect(try await TCPExchange.run(port: Int(port), payload: payload, group: Self.group) == payload)
            running.cancel()
            _ = await running.value
            await echo.close()
        }
    }

    @Test func aClientExpectingAnotherSupernodeRefusesItAndForgedHandshakesAreCounted() async throws {
        try await Supernode.with { node in
            // The client found id X on the DHT; this supernode is not X, so its signature does not verify.
            var wrong = node.supernode
            wrong.id = KeyPair.random().publicKey
            let client = ShadowClient(identity: KeyPair.random(), supernode: wrong,
                                      services: [ShadowService(name: "web", targetHost: "127.0.0.1", targetPort: 9)],
                                      group: Self.group, giveUpAfter: 1)
            let ended = await client.run()
            guard case .unreachable(let reason) = ended else { Issue.record("\(ended)"); return }
            #expect(reason.contains("signature"), "\(reason)")

            // Bytes that are not a handshake, and a hello whose proof is not the client's signature.
            let garbage = try RawTCPClient(port: node.supernode.port)
            try garbage.send(String(repeating: "GET / HTTP/1.1\r\n", count: 8))
            #expect(await eventually { node.counter("refused_handshake_malformed") == 1 })
            let start = ClientHandshake(identity: KeyPair.random(), server: node.supernode.id)
            let forger = try RawTCPClient(port: node.supernode.port)
            try forger.send(start.hello)
            _ = try await forger.read(timeout: 5) { $0.count >= HandshakeLayout.replyByteCount }
            try forger.send(Sodium.randomBytes(HandshakeLayout.proofByteCount))
            #expect(await eventually { node.counter("refused_handshake_signature") == 1 })
            #expect(try await forger.drain(timeout: 5).ended, "the supernode closed the forger's connection")
            garbage.close()
            forger.close()
        }
    }

    @Test func limitsFromTheConfigAreEnforced() async throws {
        try await Supernode.with(config: "mappingsPerClient = 1\nstreamsPerClient = 2\n") { node in
            let echo = try await TCPEchoServer(group: Self.group)
            let two = [ShadowService(name: "a", targetHost: "127.0.0.1", targetPort: echo.port),
                       ShadowService(name: "b", targetHost: "127.0.0.1", targetPort: echo.port)]
            let greedy = ShadowClient(identity: KeyPair.random(), supernode: node.supernode, services: two, group: Self.group)
            #expect(await greedy.run() == .refused("at most 1 mappings per client"))
            #expect(node.counter("refused_mappings") == 1)

            // Two public connections at once are relayed; a third is closed at once.
            let client = ShadowClient(identity: KeyPair.random(), supernode: node.supernode, services: [two[0]], group: Self.group)
            let (endpoints, _, running) = try await Self.expose(client)
            let port = Int(try #require(endpoints.first?.port))
            let first = try RawTCPClient(port: port), second = try RawTCPClient(port: port)
            try first.send("one")
            try second.send("two")
            #expect(try await first.read(timeout: 5) { $0.count >= 3 }.0 == Array("one".utf8))
            #expect(try await second.read(timeout: 5) { $0.count >= 3 }.0 == Array("two".utf8))
            let third = try RawTCPClient(port: port)
            #expect(try await third.drain(timeout: 5).ended, "the third connection is closed")
            #expect(node.counter("refused_streams") == 1)
            first.close()
            second.close()
            // Once they close, there is room again.
            #expect(await eventually { client.statistics.openStreams == 0 })
            #expect(try await TCPExchange.run(port: port, payload: Array("again".utf8), group: Self.group) == Array("again".utf8))
            running.cancel()
            _ = await running.value
            await echo.close()
        }
    }

    @Test func aSlowReaderThatHalfClosesGetsEveryByteAndStallsNoOtherStream() async throws {
        try await Supernode.with { node in
            let echo = try await TCPEchoServer(group: Self.group)
            let client = ShadowClient(identity: KeyPair.random(), supernode: node.supernode,
                                      services: [ShadowService(name: "echo", targetHost: "127.0.0.1", targetPort: echo.port)], group: Self.group)
            let (endpoints, _, running) = try await Self.expose(client)
            let port = Int(try #require(endpoints.first?.port))
            // A client with a 4 KiB receive buffer sends 1 MB, half-closes and reads nothing for a
            // while: the echoes pile up on the relay's side of its connection.
            let slow = try RawTCPClient(port: port, receiveBuffer: 4096)
            let payload = Sodium.randomBytes(1_000_000)
            let sending = Task { try await onOwnThread { try slow.send(payload); slow.endSending() } }
            // Meanwhile another stream is served at once.
            let other = Sodium.randomBytes(100_000)
            #expect(try await TCPExchange.run(port: port, payload: other, group: Self.group) == other)
            try await Task.sleep(for: .seconds(1))
            // Then it reads: every byte comes back, then the end (no write pending at the end is dropped).
            let back = try await slow.drain(timeout: 5)
            try await sending.value
            #expect(back.ended && back.bytes.count == payload.count && back.bytes == payload, "\(back.bytes.count) of \(payload.count) bytes")
            slow.close()
            running.cancel()
            _ = await running.value
            await echo.close()
        }
    }

    @Test func anOutsideClientThatVanishesMidStreamClosesItsStreamAndNoOther() async throws {
        try await Supernode.with { node in
            let echo = try await TCPEchoServer(group: Self.group)
            let client = ShadowClient(identity: KeyPair.random(), supernode: node.supernode,
                                      services: [ShadowService(name: "echo", targetHost: "127.0.0.1", targetPort: echo.port)], group: Self.group)
            let (endpoints, _, running) = try await Self.expose(client)
            let port = Int(try #require(endpoints.first?.port))
            let steady = try RawTCPClient(port: port)
            try steady.send("before")
            #expect(try await steady.read(timeout: 5) { $0.count >= 6 }.0 == Array("before".utf8))
            // One client sends half a message and is reset (SO_LINGER 0): its stream closes on
            // both sides of the relay, the local service's connection too.
            let vanishing = try RawTCPClient(port: port)
            try vanishing.send(String(repeating: "x", count: 100_000))
            #expect(await eventually { client.statistics.openStreams == 2 })
            vanishing.reset()
            #expect(await eventually { client.statistics.openStreams == 1 }, "\(client.statistics)")
            try steady.send("after")
            #expect(try await steady.read(timeout: 5) { $0.count >= 5 }.0 == Array("after".utf8))
            steady.close()
            running.cancel()
            _ = await running.value
            await echo.close()
        }
    }

    @Test func aConnectedClientKeepsItsPortPastItsReservationAndAGoneOneLosesIt() async throws {
        // One public port, reserved for no time at all after last use.
        try await Supernode.with(ports: 1, config: "reserveDays = 0\n") { node in
            let echo = try await TCPEchoServer(group: Self.group)
            let services = [ShadowService(name: "echo", targetHost: "127.0.0.1", targetPort: echo.port)]
            let first = ShadowClient(identity: KeyPair.random(), supernode: node.supernode, services: services, group: Self.group)
            let (endpoints, _, running) = try await Self.expose(first)
            let port = try #require(endpoints.first?.port)
            try await Task.sleep(for: .milliseconds(1100))
            // The reservation ran out, but its client is connected: the port is not handed on.
            let second = ShadowClient(identity: KeyPair.random(), supernode: node.supernode, services: services, group: Self.group)
            #expect(await second.run() == .refused("no free public port left on this supernode"))
            #expect(try await TCPExchange.run(port: Int(port), payload: Array("still mine".utf8), group: Self.group) == Array("still mine".utf8))
            // Once the first client is gone, the port goes to whoever needs one.
            running.cancel()
            _ = await running.value
            try await Task.sleep(for: .milliseconds(1100))
            let third = ShadowClient(identity: second.identity, supernode: node.supernode, services: services, group: Self.group, giveUpAfter: 1)
            let events = Events()
            let thirdRunning = Task { await third.run { events.record($0) } }
            #expect(await eventually(within: .seconds(10)) { events.endpoints != nil })
            #expect(events.endpoints?.first?.port == port, "\(events.all)")
            thirdRunning.cancel()
            let ended = await thirdRunning.value
            #expect(ended == .cancelled, "\(ended)")
            await echo.close()
        }
    }

    /// A connection that completed the handshake as `identity`, and its sending key, for writing
    /// hostile frames by hand.
    private static func handshaken(_ node: Supernode, as identity: KeyPair = KeyPair.random()) async throws -> (RawTCPClient, SealingKey) {
        let start = ClientHandshake(identity: identity, server: node.supernode.id)
        let connection = try RawTCPClient(port: node.supernode.port)
        try connection.send(start.hello)
        let reply = try await connection.read(timeout: 5) { $0.count >= HandshakeLayout.replyByteCount }.bytes
        let (proof, keys) = try start.finish(reply: Array(reply.prefix(HandshakeLayout.replyByteCount)))
        try connection.send(proof)
        return (connection, keys.sending)
    }

    /// `plaintext` (type byte and body) as one sealed frame.
    private static func sealed(_ plaintext: [UInt8], _ key: SealingKey) throws -> [UInt8] {
        let header = BigEndian.bytes(Int32(plaintext.count + ShadowCipher.tagByteCount))
        var output = [UInt8](repeating: 0, count: plaintext.count + ShadowCipher.tagByteCount)
        try plaintext.withUnsafeBytes { input in try output.withUnsafeMutableBytes { try key.seal(input, additional: header, into: $0) } }
        return header + output
    }

    /// Hostile input after a valid handshake, and random bytes before one: each connection is
    /// closed and counted, and the supernode goes on serving a real client.
    @Test func hostileFramesAndRandomBytesAreRefusedAndCountedWhileARealClientIsServed() async throws {
        try await Supernode.with { node in
            let cases: [(String, (SealingKey) throws -> [UInt8])] = [
                ("refused_frames", { _ in BigEndian.bytes(Int32(bitPattern: 0xFFFF_FFF0)) }),               // an absurd length
                ("refused_frames", { _ in BigEndian.bytes(Int32(40)) + [UInt8](repeating: 7, count: 40) }), // does not authenticate
                ("refused_frames", { try Self.sealed([1] + Array("not cbor".utf8), $0) }),                  // control, not CBOR
                ("refused_frames", { try Self.sealed([1] + ControlMessage.ping.encoded.dropLast(), $0) }),  // control, cut short
                ("refused_frames", { try Self.sealed([9, 1, 2], $0) }),                                     // unknown frame type
                ("refused_protocol", { try Self.sealed([2] + Array("data first".utf8), $0) }),              // data before expose/attach
                ("refused_protocol", { try Self.sealed([1] + ControlMessage.pong.encoded, $0) }),           // a pong as first frame
                ("refused_attach", { try Self.sealed([1] + ControlMessage.attach(stream: 424_242).encoded, $0) }), // no such stream
            ]
            var expected: [String: Double] = [:]
            for (counter, frame) in cases {
                let (connection, key) = try await Self.handshaken(node)
                try connection.send(try frame(key))
                #expect(try await connection.drain(timeout: 5).ended, "\(counter): the supernode closed the connection")
                expected[counter, default: 0] += 1
                #expect(await eventually { node.counter(counter) == expected[counter] }, "\(counter): \(node.counter(counter))")
                connection.close()
            }
            // 100 connections of random bytes (1 to 200 of them): every one is refused as a
            // malformed handshake once 70 bytes arrived, or by the 10 s deadline (not waited for).
            var complete = 0
            for _ in 0..<100 {
                let count = Int.random(in: 1...200)
                let connection = try RawTCPClient(port: node.supernode.port)
                try connection.send(Sodium.randomBytes(count))
                if count >= HandshakeLayout.helloByteCount {
                    complete += 1
                    #expect(try await connection.drain(timeout: 5).ended)
                }
                connection.close()
            }
            #expect(await eventually { node.counter("refused_handshake_malformed") + node.counter("refused_handshake_key")
                                       + node.counter("refused_handshake_cipher") >= Double(complete) })

            let echo = try await TCPEchoServer(group: Self.group)
            let client = ShadowClient(identity: KeyPair.random(), supernode: node.supernode,
                                      services: [ShadowService(name: "echo", targetHost: "127.0.0.1", targetPort: echo.port)], group: Self.group)
            let (endpoints, _, running) = try await Self.expose(client)
            let payload = Sodium.randomBytes(50_000)
            #expect(try await TCPExchange.run(port: Int(try #require(endpoints.first?.port)), payload: payload, group: Self.group) == payload)
            running.cancel()
            _ = await running.value
            await echo.close()
        }
    }
}
