import Foundation
import Testing
import TestSupport

/// The network lab is a real NAT: the home host is out of reach from outside, reaches the public
/// side under the router's address, gets new mappings after a flush or a new uplink, and leaves
/// nothing behind. Its peers are Tests/ShadowTests/lab_peer.py, run with Debian's python3.
@Suite struct NetworkLabTests {
    static let python = "/usr/bin/python3"
    static let peer = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("lab_peer.py").path

    /// Starts lab_peer.py `arguments` in `namespace` and waits until it listens.
    func serve(_ lab: NetworkLab, in namespace: NetworkLab.Namespace, _ arguments: [String]) async throws -> ChildProcess {
        let server = try lab.launch(in: namespace, Self.python, [Self.peer] + arguments)
        let listening = await server.waitFor("listening", within: .seconds(5))
        try #require(listening, "lab_peer.py \(arguments.joined(separator: " ")) did not listen:\n\(server.transcript)")
        return server
    }

    /// Runs lab_peer.py `arguments` in `namespace` to its end.
    func peer(_ lab: NetworkLab, in namespace: NetworkLab.Namespace, _ arguments: [String]) async throws -> ChildProcess.Outcome {
        try await lab.run(in: namespace, Self.python, [Self.peer] + arguments)
    }

    @Test func homeServerIsOutOfReachFromOutside() async throws {
        let lab = try await NetworkLab.makeOrSkip()
        let server = try await serve(lab, in: .home, ["tcp-serve", lab.homeAddress, "8080"])
        let started = ContinuousClock.now
        // The public side has no route to the home network…
        let direct = try await peer(lab, in: .public, ["tcp-connect", "--from", lab.outsideAddress, lab.homeAddress, "8080"])
        #expect(direct.status == 1 && direct.stdout.contains("unreachable"), "\(direct.stdout)")
        // …the router's public address forwards nothing unasked…
        let router = try await peer(lab, in: .public, ["tcp-connect", "--from", lab.outsideAddress, lab.routerPublicAddress, "8080"])
        #expect(router.status == 1 && router.stdout.contains("refused"), "\(router.stdout)")
        #expect(ContinuousClock.now - started < .seconds(1))
        // …and even routed through the router, a connection from outside is dropped there.
        let route = try await lab.run(in: .public, "/usr/sbin/ip", ["route", "add", "10.77.1.0/24", "via", lab.routerPublicAddress])
        #expect(route.status == 0, "\(route.stderr)")
        let routed = try await peer(lab, in: .public, ["tcp-connect", "--from", lab.outsideAddress, lab.homeAddress, "8080"])
        #expect(routed.status == 1 && routed.stdout.contains("timed out"), "\(routed.stdout)")
        #expect(!server.transcript.contains("peer "), "the home server was reached:\n\(server.transcript)")
        await lab.remove()
    }

    @Test func homeReachesThePublicSideUnderTheRoutersAddress() async throws {
        let lab = try await NetworkLab.makeOrSkip()
        let server = try await serve(lab, in: .public, ["tcp-serve", lab.supernodeAddress, "8000"])
        let connected = try await peer(lab, in: .home, ["tcp-connect", lab.supernodeAddress, "8000"])
        #expect(connected.status == 0, "\(connected.stdout)\(connected.stderr)")
        #expect(connected.stdout.hasPrefix("you are \(lab.routerPublicAddress):"), "\(connected.stdout)")
        #expect(await server.waitFor("peer \(lab.routerPublicAddress):"), "\(server.transcript)")
        #expect(!server.transcript.contains(lab.homeAddress))
        await lab.remove()
    }

    @Test func newConnectionsWorkAfterAFlushAndANewUplink() async throws {
        let lab = try await NetworkLab.makeOrSkip()
        _ = try await serve(lab, in: .public, ["tcp-serve", lab.supernodeAddress, "8000"])
        let before = try await peer(lab, in: .home, ["tcp-connect", lab.supernodeAddress, "8000"])
        #expect(before.stdout.hasPrefix("you are 198.18.0.1:"), "\(before.stdout)")

        try await lab.flushRouterState()
        let conntrack = try await lab.run(in: .router, "/usr/sbin/conntrack", ["-L"])
        #expect(conntrack.stdout.isEmpty, "conntrack entries left after the flush:\n\(conntrack.stdout)")
        let afterFlush = try await peer(lab, in: .home, ["tcp-connect", lab.supernodeAddress, "8000"])
        #expect(afterFlush.stdout.hasPrefix("you are 198.18.0.1:"), "\(afterFlush.stdout)")

        let uplink = try await lab.changeRouterPublicAddress()
        #expect(uplink == "198.18.0.2" && lab.routerPublicAddress == uplink)
        let afterMove = try await peer(lab, in: .home, ["tcp-connect", lab.supernodeAddress, "8000"])
        #expect(afterMove.stdout.hasPrefix("you are 198.18.0.2:"), "\(afterMove.stdout)")
        await lab.remove()
    }

    @Test func removeLeavesNoNamespaceAndMakeClearsDeadLabs() async throws {
        let first = try await NetworkLab.makeOrSkip()
        // A leftover of a dead process: a lab namespace named after a pid that runs nothing.
        let pidMax = Int32(try String(contentsOfFile: "/proc/sys/kernel/pid_max", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)) ?? 32768
        let deadPid = try #require((2..<pidMax).reversed().first { kill($0, 0) != 0 && errno == ESRCH })
        let leftover = "nl\(deadPid)x1h"
        let added = try await ChildProcess.run("/usr/sbin/ip", ["netns", "add", leftover])
        #expect(added.status == 0, "\(added.stderr)")

        let started = ContinuousClock.now
        let lab = try await NetworkLab.make()
        let up = ContinuousClock.now - started
        let server = try await serve(lab, in: .home, ["tcp-serve", lab.homeAddress, "8080"])
        let names = NetworkLab.Namespace.allCases.map(lab.name(of:)) + NetworkLab.Namespace.allCases.map(first.name(of:))
        var listed = try await ChildProcess.run("/usr/sbin/ip", ["netns", "list"]).stdout
        #expect(names.allSatisfy { listed.contains($0) }, "\(listed)")
        #expect(!listed.contains(leftover), "make() left the dead lab's \(leftover):\n\(listed)")

        let removing = ContinuousClock.now
        await lab.remove()
        let down = ContinuousClock.now - removing
        await first.remove()
        print("network lab up in \(up), down in \(down) (ending a server in it)")
        listed = try await ChildProcess.run("/usr/sbin/ip", ["netns", "list"]).stdout
        #expect(!names.contains { listed.contains($0) }, "\(listed)")
        #expect(!server.isRunning)
    }

    /// What each NAT type lets through: the ports the reflector saw from one home socket sending to
    /// two of its ports, and who reached a second home socket that sent to the first port.
    @Test(arguments: NetworkLab.NATType.allCases)
    func natTypeMapsAndFiltersAsDocumented(_ natType: NetworkLab.NATType) async throws {
        let lab = try await NetworkLab.makeOrSkip(nat: natType)
        #expect(lab.natType == natType)
        _ = try await serve(lab, in: .public, ["udp-reflect", lab.supernodeAddress, "5000", "5001", lab.outsideAddress, "5002"])
        let probe = try await peer(lab, in: .home, ["udp-probe", lab.supernodeAddress, "5000", "5001", "4000", "4001"])
        try #require(probe.status == 0, "\(probe.stdout)\(probe.stderr)")
        let lines = probe.stdout.split(separator: "\n").map(String.init)
        let mapped = lines.filter { $0.hasPrefix("mapping ") }.map { $0.split(separator: " ")[2] }
        try #require(mapped.count == 2, "\(probe.stdout)")
        #expect(mapped.allSatisfy { $0.hasPrefix("\(lab.routerPublicAddress):") }, "\(mapped)")
        if natType == .symmetric {
            #expect(mapped[0] != mapped[1], "one public port for two destinations: \(mapped)")
        } else {
            #expect(mapped == ["\(lab.routerPublicAddress):4000", "\(lab.routerPublicAddress):4000"], "\(mapped)")
        }
        let reached = Set(lines.filter { $0.hasPrefix("from ") }.map { String($0.split(separator: " ")[1]) })
        let answer = "\(lab.supernodeAddress):5000", samePeer = "\(lab.supernodeAddress):5001", other = "\(lab.outsideAddress):5002"
        let expected: Set<String> = switch natType {
        case .portRestrictedCone, .symmetric: [answer]
        case .addressRestricted: [answer, samePeer]
        case .fullCone: [answer, samePeer, other]
        }
        #expect(reached == expected, "\(probe.stdout)")
        await lab.remove()
    }
}
