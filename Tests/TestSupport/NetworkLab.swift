import Foundation
import Synchronization
import Testing

/// A real NAT built of three Linux network namespaces, for tests of services reached through it
/// (the Shadow service exposes a server behind NAT):
///
/// ```
///  home 10.77.1.2 ── veth ── 10.77.1.1  router  198.18.0.1 ── veth ── public 198.18.0.100 (supernode)
///  default route via .1             forwards, masquerades               198.18.0.200 (outside client)
/// ```
///
/// - `home`: the private network 10.77.1.0/24, the home host at .2, its default route via the
///   router at .1.
/// - `router`: forwards (`ip_forward` is on in its namespace only) and masquerades the home
///   network out of its public address with nftables, as the chosen `NATType`.
/// - `public`: the "internet" 198.18.0.0/24 (RFC 2544's benchmarking range): the router's
///   public address, and two addresses on one interface, the supernode's and an outside
///   client's (the supernode's is the primary, so bind to `outsideAddress` to speak as the
///   outside client). It has no route to the home network.
///
/// Every lab uses these same addresses: each namespace is a network stack of its own, so labs
/// never see each other, and no traffic leaves them. Their names (see `NetworkLabNames`) are
/// unique per lab, across processes too. Every `ip`, `nft` and `conntrack` runs as a child
/// process on threads of its own (`ChildProcess.run`), never blocking Swift's cooperative pool.
/// `remove()` deletes the lab; one never removed (its process died) is deleted by the next
/// `make()` of any process, which recognises it by the dead pid in its names.
public final class NetworkLab: Sendable {
    /// One of the lab's network namespaces.
    public enum Namespace: String, CaseIterable, Sendable {
        case home = "h", router = "r", `public` = "p"
    }

    /// The lab cannot be built here: not root, a tool missing, or the kernel refusing
    /// namespaces or nftables (a container without CAP_SYS_ADMIN or CAP_NET_ADMIN).
    public struct Unavailable: Error, CustomStringConvertible {
        public let reason: String
        public var description: String { "network lab unavailable: \(reason)" }
    }

    /// A step of building, changing or running in a lab that should have worked failed.
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    public let natType: NATType
    public let homeAddress = "10.77.1.2"
    /// The router's address on the home network, the home host's default route.
    public let routerHomeAddress = "10.77.1.1"
    public let supernodeAddress = "198.18.0.100"
    public let outsideAddress = "198.18.0.200"
    /// The router's address on the public side: 198.18.0.1, then .2, .3… after each
    /// `changeRouterPublicAddress()`.
    public var routerPublicAddress: String { Self.publicAddress(host: state.withLock { $0.routerHost }) }

    private let names: NetworkLabNames
    private let tools: Tools
    private let state = Mutex(State())

    private struct State {
        /// The last number of `routerPublicAddress`.
        var routerHost = 1
        /// What `launch` started, awaited by `remove()` until reaped.
        var children: [ChildProcess] = []
    }

    private init(natType: NATType, names: NetworkLabNames, tools: Tools) {
        self.natType = natType
        self.names = names
        self.tools = tools
    }

    /// Builds a lab whose router is a NAT of `natType`, after deleting the labs of dead processes.
    /// Throws `Unavailable` when this machine cannot have one.
    public static func make(nat natType: NATType = .portRestrictedCone) async throws -> NetworkLab {
        guard geteuid() == 0 else { throw Unavailable(reason: "not root (network namespaces and nftables need it)") }
        let tools = try Tools.locate()
        await removeLeftovers(using: tools)
        let lab = NetworkLab(natType: natType, names: try NetworkLabNames.next(), tools: tools)
        do {
            try await lab.build()
        } catch {
            await lab.remove()
            throw error
        }
        return lab
    }

    /// `make(nat:)` for a test: where a lab is unavailable, prints "skipped: REASON" and ends the
    /// test as cancelled with that reason (Swift Testing reports it skipped, not passed).
    public static func makeOrSkip(nat natType: NATType = .portRestrictedCone) async throws -> NetworkLab {
        do {
            return try await make(nat: natType)
        } catch let unavailable as Unavailable {
            print("skipped: \(unavailable.reason)")
            try Test.cancel(Comment(rawValue: unavailable.reason))
        }
    }

    /// The namespace's name, for `ip netns exec` by hand.
    public func name(of namespace: Namespace) -> String { names.namespace(namespace) }

    /// Starts `executable` in `namespace` (through `ip netns exec`) with `environment` set on top
    /// of this process's. `remove()` ends it if it still runs then.
    public func launch(in namespace: Namespace, _ executable: String, _ arguments: [String],
                       environment: [String: String] = [:]) throws -> ChildProcess {
        let child = try ChildProcess.start(
            tools.ip, ["netns", "exec", name(of: namespace), executable] + arguments,
            environment: environment.isEmpty ? nil : ProcessInfo.processInfo.environment.merging(environment) { $1 })
        state.withLock { $0.children.append(child) }
        return child
    }

    /// Runs `executable` in `namespace` to its end, with `input` on its standard input.
    public func run(in namespace: Namespace, _ executable: String, _ arguments: [String],
                    input: String = "") async throws -> ChildProcess.Outcome {
        try await ChildProcess.run(tools.ip, ["netns", "exec", name(of: namespace), executable] + arguments, input: input)
    }

    /// What a change of the home network does to the router's mappings: forgets every tracked
    /// connection (`conntrack -F`) and the emulated cones' openings. The next outbound packet of
    /// each flow makes a new mapping; inbound packets of old ones no longer pass.
    public func flushRouterState() async throws {
        try await check(run(in: .router, tools.conntrack, ["-F"]), "conntrack -F")
        let reset = ruleset.resetCommands
        if !reset.isEmpty { try await check(run(in: .router, tools.nft, ["-f", "-"], input: reset), "nft") }
    }

    /// A new uplink: moves the router to the next public address (198.18.0.2, .3…) and flushes its
    /// state. Returns the new address.
    @discardableResult
    public func changeRouterPublicAddress() async throws -> String {
        let (old, new) = try state.withLock { state throws(Failure) in
            guard state.routerHost < 99 else { throw Failure(description: "the router has had all its public addresses") }
            state.routerHost += 1
            return (Self.publicAddress(host: state.routerHost - 1), Self.publicAddress(host: state.routerHost))
        }
        try await ip(in: .router, ["address del \(old)/24 dev \(names.routerPublicInterface)",
                                   "address add \(new)/24 dev \(names.routerPublicInterface)"])
        try await flushRouterState()
        return new
    }

    /// Ends every process in the lab's namespaces, then deletes them (their veths go with them).
    public func remove() async {
        await Self.remove(namespaces: Namespace.allCases.map(name(of:)), using: tools)
        let children = state.withLock { state in
            defer { state.children = [] }
            return state.children
        }
        // Reaped children stop at once when released (ChildProcess.stop would sleep otherwise).
        _ = await eventually { children.allSatisfy { !$0.isRunning } }
    }

    // MARK: - Building

    private var ruleset: NATRuleset {
        NATRuleset(type: natType, homeNetwork: "10.77.1.0/24", homeHost: homeAddress,
                   publicInterface: names.routerPublicInterface)
    }

    private static func publicAddress(host: Int) -> String { "198.18.0.\(host)" }

    private func build() async throws {
        let home = name(of: .home), router = name(of: .router), publicSide = name(of: .public)
        let created = try await ChildProcess.run(tools.ip, ["-batch", "-"], input: lines([
            "netns add \(home)", "netns add \(router)", "netns add \(publicSide)",
            "link add \(names.homeInterface) netns \(home) type veth peer name \(names.routerHomeInterface) netns \(router)",
            "link add \(names.routerPublicInterface) netns \(router) type veth peer name \(names.publicInterface) netns \(publicSide)",
        ]))
        guard created.status == 0 else {
            throw Unavailable(reason: "ip could not create the namespaces and veths: \(created.stderr.oneLine)")
        }
        async let homeReady: Void = ip(in: .home, [
            "link set lo up", "address add \(homeAddress)/24 dev \(names.homeInterface)",
            "link set \(names.homeInterface) up", "route add default via \(routerHomeAddress)",
        ])
        async let publicReady: Void = ip(in: .public, [
            "link set lo up", "address add \(supernodeAddress)/24 dev \(names.publicInterface)",
            "address add \(outsideAddress)/24 dev \(names.publicInterface)", "link set \(names.publicInterface) up",
        ])
        async let routerReady: Void = buildRouter()
        _ = try await (homeReady, publicReady, routerReady)
    }

    private func buildRouter() async throws {
        try await ip(in: .router, [
            "link set lo up", "address add \(routerHomeAddress)/24 dev \(names.routerHomeInterface)",
            "link set \(names.routerHomeInterface) up",
            "address add \(routerPublicAddress)/24 dev \(names.routerPublicInterface)",
            "link set \(names.routerPublicInterface) up",
        ])
        try await check(run(in: .router, tools.sysctl, ["-qw", "net.ipv4.ip_forward=1"]), "sysctl")
        let loaded = try await run(in: .router, tools.nft, ["-f", "-"], input: ruleset.text)
        guard loaded.status == 0 else {
            // A fault of the ruleset is ours; anything else is the kernel refusing nftables.
            let message = "nft could not load the \(natType) ruleset: \(loaded.stderr.oneLine)"
            if loaded.stderr.contains("syntax error") { throw Failure(description: message + "\n" + ruleset.text) }
            throw Unavailable(reason: message)
        }
    }

    /// Runs `commands` with `ip -batch` in `namespace`.
    private func ip(in namespace: Namespace, _ commands: [String]) async throws {
        try await check(ChildProcess.run(tools.ip, ["-netns", name(of: namespace), "-batch", "-"], input: lines(commands)),
                        "ip -netns \(name(of: namespace))")
    }

    private func check(_ outcome: ChildProcess.Outcome, _ what: String) throws {
        guard outcome.status == 0 else {
            throw Failure(description: "\(what) failed (\(outcome.status)): \(outcome.stderr.oneLine)")
        }
    }

    private func lines(_ commands: [String]) -> String { commands.map { $0 + "\n" }.joined() }

    // MARK: - Removing

    /// Deletes the namespaces of labs whose process has died.
    private static func removeLeftovers(using tools: Tools) async {
        guard let listed = try? await ChildProcess.run(tools.ip, ["netns", "list"]) else { return }
        let dead = listed.stdout.split(separator: "\n").compactMap { $0.split(separator: " ").first.map(String.init) }
            .filter { name in NetworkLabNames.owner(ofNamespace: name).map { kill($0, 0) != 0 && errno == ESRCH } ?? false }
        if !dead.isEmpty { await remove(namespaces: dead, using: tools) }
    }

    /// Kills what runs in `namespaces`, waits until nothing does, deletes them; errors (a
    /// namespace already gone) are ignored.
    private static func remove(namespaces: [String], using tools: Tools) async {
        let pids: () async -> [pid_t] = {
            let listed = try? await ChildProcess.run(tools.ip, ["-force", "-batch", "-"],
                                                     input: namespaces.map { "netns pids \($0)\n" }.joined())
            return (listed?.stdout ?? "").split(separator: "\n").compactMap { pid_t($0) }
        }
        var running = await pids()
        if !running.isEmpty {
            for pid in running { kill(pid, SIGKILL) }
            _ = await eventually { running = await pids(); return running.isEmpty }
        }
        _ = try? await ChildProcess.run(tools.ip, ["-force", "-batch", "-"],
                                        input: namespaces.map { "netns delete \($0)\n" }.joined())
    }
}

/// Where the programs a lab runs are (Debian puts them in /usr/sbin).
private struct Tools: Sendable {
    let ip: String, nft: String, conntrack: String, sysctl: String

    static func locate() throws(NetworkLab.Unavailable) -> Tools {
        func find(_ program: String, package: String) throws(NetworkLab.Unavailable) -> String {
            let found = ["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map { "\($0)/\(program)" }
                .first { FileManager.default.isExecutableFile(atPath: $0) }
            guard let found else {
                throw NetworkLab.Unavailable(reason: "\(program) is missing: `make test` installs Debian's \(package) package")
            }
            return found
        }
        return Tools(ip: try find("ip", package: "iproute2"), nft: try find("nft", package: "nftables"),
                     conntrack: try find("conntrack", package: "conntrack"), sysctl: try find("sysctl", package: "procps"))
    }
}

private extension String {
    /// Its lines, trimmed, joined with "; ": a tool's complaint fit for one line of a reason.
    var oneLine: String {
        split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }.joined(separator: "; ")
    }
}
