import CarrierCore
@testable import CarrierHost
import Foundation
import Glibc
import TestSupport
import Testing

/// The host's own count of a socket's bytes (ABI 1.6 `count_tcp_socket`), on real loopback TCP
/// sockets and a real ledger: what the kernel counted is what is billed, however the plugin's
/// word would have gone.
struct SocketMeterTests {
    /// A connected pair of blocking loopback TCP sockets: `server` is the one a plugin would hold.
    final class Pair: Sendable {
        let server: Int32
        let client: Int32

        init() throws {
            let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { Glibc.close(listener) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let listening = Self.withAddress(&address) { bind(listener, $0, length) } == 0 && listen(listener, 1) == 0
            try #require(listening)
            _ = Self.withAddress(&address) { getsockname(listener, $0, &length) }
            let client = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            let connected = Self.withAddress(&address) { connect(client, $0, length) } == 0
            try #require(connected)
            let server = accept(listener, nil, nil)
            try #require(server >= 0)
            self.client = client
            self.server = server
        }

        /// The server socket as the kernel names it.
        var name: KernelSocket {
            var cookie: UInt64 = 0, size = socklen_t(8)
            _ = getsockopt(server, SOL_SOCKET, SO_COOKIE, &cookie, &size)
            return KernelSocket(cookie: cookie, family: .ipv4, local: Self.end(server, getsockname), remote: Self.end(server, getpeername))!
        }

        /// Writes `count` bytes on `from` and reads them all on the other socket.
        func send(_ count: Int, from sender: Int32) {
            let receiver = sender == server ? client : server
            let bytes = [UInt8](repeating: 7, count: count)
            var written = 0
            while written < count { written += bytes[written...].withUnsafeBytes { write(sender, $0.baseAddress, $0.count) } }
            var buffer = [UInt8](repeating: 0, count: 65_536), read = 0
            while read < count { read += buffer.withUnsafeMutableBytes { recv(receiver, $0.baseAddress, min($0.count, count - read), 0) } }
        }

        func close(_ descriptor: Int32) { _ = Glibc.close(descriptor) }

        /// Closes `descriptor` with a reset (SO_LINGER 0): the kernel drops the socket at once,
        /// where a FIN leaves it in FIN_WAIT or TIME_WAIT for a while.
        func abort(_ descriptor: Int32) {
            var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
            _ = setsockopt(descriptor, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
            _ = Glibc.close(descriptor)
        }

        private static func end(_ descriptor: Int32, _ call: (Int32, UnsafeMutablePointer<sockaddr>, UnsafeMutablePointer<socklen_t>) -> Int32) -> KernelSocket.End {
            var address = sockaddr_in(), length = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = withAddress(&address) { call(descriptor, $0, &length) }
            return KernelSocket.End(address: withUnsafeBytes(of: address.sin_addr) { Array($0) }, port: UInt16(bigEndian: address.sin_port))
        }

        private static func withAddress<T>(_ address: inout sockaddr_in, _ body: (UnsafeMutablePointer<sockaddr>) -> T) -> T {
            withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1, body) }
        }
    }

    static let plugin = "org.example.metered"

    /// A meter on a fresh ledger; its dumps every `poll`.
    static func meter(poll: Duration = .seconds(5)) throws -> (SocketMeter, BillingAccounts) {
        let folder = NSTemporaryDirectory() + "carrier-meter-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let billing = try BillingAccounts(ledger: BillingLedger.open(dataDirectory: folder))
        return (SocketMeter(billing: billing, metrics: PluginMetrics(), pollInterval: poll), billing)
    }

    /// What the ledger holds of meter `bytes` for `client`.
    static func billed(_ billing: BillingAccounts, _ client: Id, plugin: String = plugin) -> Int64 {
        _ = try? billing.flush()
        return (try? billing.ledger.totals(client: client))?.usage.first { $0.meter == "bytes" && $0.plugin == plugin }?.units ?? 0
    }

    @Test func aClosedSocketIsBilledWhatTheKernelCountedBothWays() async throws {
        let (meter, billing) = try Self.meter()
        let pair = try Pair(), client = KeyPair.random().publicKey
        pair.send(1_000, from: pair.client)  // before it is handed over: counted too
        #expect(meter.count(pair.name, plugin: Self.plugin, client: client, meter: "bytes", section: BillingSection()) == .counting)
        #expect(meter.count(pair.name, plugin: Self.plugin, client: client, meter: "bytes", section: BillingSection()) == .alreadyCounted)
        pair.send(300_000, from: pair.client)
        pair.send(50_000, from: pair.server)
        // The plugin closes first, then its peer: whether the peer's FIN reaches the closing socket
        // before the kernel destroys it (and is counted as one byte) is the kernel's timing.
        pair.close(pair.server)
        try await Task.sleep(for: .milliseconds(20))
        pair.close(pair.client)
        #expect(await eventually(within: .seconds(5)) { (351_000...351_001).contains(Self.billed(billing, client)) },
                "billed \(Self.billed(billing, client))")
        #expect(await eventually { meter.totals.counting == 0 && meter.totals.ended == 1 }, "\(meter.totals)")
        await meter.stop()
    }

    @Test func aLongConnectionIsBilledAsItGoes() async throws {
        let (meter, billing) = try Self.meter(poll: .milliseconds(200))
        let pair = try Pair(), client = KeyPair.random().publicKey
        #expect(meter.count(pair.name, plugin: Self.plugin, client: client, meter: "bytes", section: BillingSection()) == .counting)
        pair.send(40_000, from: pair.server)
        #expect(await eventually(within: .seconds(5)) { Self.billed(billing, client) == 40_000 }, "billed \(Self.billed(billing, client)) while open")
        pair.send(2_000, from: pair.client)
        // Its peer closes first: the FIN arrives while the socket is open, and the kernel counts it.
        pair.close(pair.client)
        try await Task.sleep(for: .milliseconds(20))
        pair.close(pair.server)
        #expect(await eventually(within: .seconds(5)) { Self.billed(billing, client) == 42_001 }, "billed \(Self.billed(billing, client))")
        await meter.stop()
    }

    @Test func stoppingBillsWhatTheLastClosedSocketsCountedAndCountsNoMore() async throws {
        let (meter, billing) = try Self.meter()
        let pair = try Pair(), client = KeyPair.random().publicKey
        #expect(meter.count(pair.name, plugin: Self.plugin, client: client, meter: "bytes", section: BillingSection()) == .counting)
        pair.send(9_000, from: pair.server)
        pair.close(pair.server)
        pair.close(pair.client)
        await meter.stop()
        #expect((9_000...9_001).contains(Self.billed(billing, client)), "billed \(Self.billed(billing, client)) by the last reading")
        let later = try Pair()
        guard case .unsupported = meter.count(later.name, plugin: Self.plugin, client: client, meter: "bytes", section: BillingSection()) else {
            Issue.record("a stopped meter counted a socket")
            return
        }
        await meter.stop()
        later.close(later.server)
        later.close(later.client)
    }

    @Test func aSocketTheKernelDoesNotHaveIsRefused() async throws {
        let (meter, _) = try Self.meter()
        let pair = try Pair(), client = KeyPair.random().publicKey
        let real = pair.name
        let forged = KernelSocket(cookie: real.cookie &+ 1_000_000, family: .ipv4, local: real.local, remote: real.remote)!
        #expect(meter.count(forged, plugin: Self.plugin, client: client, meter: "bytes", section: BillingSection()) == .notFound)
        // An answer after the caller's deadline (a runner's call that timed out) is not counted.
        #expect(meter.count(real, plugin: Self.plugin, client: client, meter: "bytes", section: BillingSection(), before: 0) == .tooLate)
        pair.abort(pair.server)
        pair.close(pair.client)
        // Closed: gone from the kernel, so not counted (the plugin bills it itself).
        #expect(meter.count(real, plugin: Self.plugin, client: client, meter: "bytes", section: BillingSection()) == .notFound)
        #expect(meter.totals.refused == 3 && meter.totals.counting == 0)
        await meter.stop()
    }

    @Test func theCountersAreReadWhereTheInstalledKernelHeaderPutsThem() async throws {
        let folder = NSTemporaryDirectory() + "carrier-tcpinfo-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try """
            #include <stdio.h>
            #include <stddef.h>
            #include <linux/tcp.h>
            int main(void) {
                printf("%zu %zu %zu", offsetof(struct tcp_info, tcpi_bytes_received), offsetof(struct tcp_info, tcpi_bytes_sent),
                       offsetof(struct tcp_info, tcpi_bytes_retrans));
                return 0;
            }
            """.write(toFile: folder + "/offsets.c", atomically: true, encoding: .utf8)
        let output = try await onOwnThread { () throws -> String in
            let compile = Process()
            compile.executableURL = URL(fileURLWithPath: "/usr/bin/cc")
            compile.arguments = ["-o", folder + "/offsets", folder + "/offsets.c"]
            try compile.run()
            compile.waitUntilExit()
            let run = Process(), pipe = Pipe()
            run.executableURL = URL(fileURLWithPath: folder + "/offsets")
            run.standardOutput = pipe
            try run.run()
            run.waitUntilExit()
            return String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        }
        #expect(output == "\(TCPCounters.receivedOffset) \(TCPCounters.sentOffset) \(TCPCounters.retransmittedOffset)")
    }
}
