import CarrierCore
@testable import CarrierHost
import Testing

/// The state machine behind the host's socket counts, fed by hand with what the kernel would say,
/// and the strict reading of the kernel's messages.
struct CountedSocketsTests {
    static let owner = CountedSockets.Owner(plugin: "org.example.metered", client: KeyPair.random().publicKey, meter: "bytes",
                                            section: BillingSection())
    static func socket(_ cookie: UInt64, _ family: KernelSocket.Family = .ipv4) -> KernelSocket {
        let length = family.addressLength
        return KernelSocket(cookie: cookie, family: family, local: .init(address: [UInt8](repeating: 1, count: length), port: 40_000),
                            remote: .init(address: [UInt8](repeating: 2, count: length), port: 50_000))!
    }
    static func counters(_ received: UInt64, _ sent: UInt64) -> TCPCounters { TCPCounters(received: received, sentOnce: sent) }

    @Test func eachByteIsBilledOnceWhicheverReportComesFirst() {
        var sockets = CountedSockets()
        let claimed = sockets.claim(Self.socket(1), owner: Self.owner), claimedTwice = sockets.claim(Self.socket(1), owner: Self.owner)
        #expect(claimed && !claimedTwice)
        let found = sockets.looked(up: 1, found: Self.counters(10, 0))
        #expect(found.counting && found.charges.map(\.bytes) == [10])
        #expect(sockets.confirmed == [Self.socket(1)])
        let grown = sockets.polled(1, found: Self.counters(10, 5)), unchanged = sockets.polled(1, found: Self.counters(10, 5))
        #expect(grown.map(\.bytes) == [5] && unchanged.isEmpty)
        let last = sockets.destroyed(1, counters: Self.counters(12, 9))
        #expect(last.map(\.bytes) == [6])
        #expect(sockets.count == 0 && sockets.totals == .init(counted: 1, refused: 0, ended: 1, lost: 0, bytes: 21))
        // A notice or a poll for a socket no one counts bills nothing.
        let unknown = sockets.destroyed(1, counters: Self.counters(99, 99)), unpolled = sockets.polled(1, found: Self.counters(99, 99))
        #expect(unknown.isEmpty && unpolled.isEmpty)
    }

    @Test func aSocketDestroyedWhileItsLookupRunsIsBilledAtItsLastCount() {
        var sockets = CountedSockets()
        let claimed = sockets.claim(Self.socket(7, .ipv6), owner: Self.owner)
        let early = sockets.destroyed(7, counters: Self.counters(100, 23))
        #expect(claimed && early.isEmpty)
        let answer = sockets.looked(up: 7, found: Self.counters(90, 20))
        #expect(answer.counting && answer.charges == [CountedSockets.Charge(owner: Self.owner, bytes: 123)])
        #expect(sockets.count == 0 && sockets.totals.ended == 1)
    }

    @Test func aSocketTheLookupDidNotFindIsNotCountedEvenWithItsNoticeIn() {
        var sockets = CountedSockets()
        _ = sockets.claim(Self.socket(8), owner: Self.owner)
        // Closed before it was handed over; its notice, sent from the kernel's work queue, came late.
        let late = sockets.destroyed(8, counters: Self.counters(100, 23))
        let answer = sockets.looked(up: 8, found: nil)
        #expect(late.isEmpty && !answer.counting && answer.charges.isEmpty)
        #expect(sockets.count == 0 && sockets.totals == .init(counted: 0, refused: 1, ended: 0, lost: 0, bytes: 0))
    }

    @Test func aSocketTheKernelDoesNotKnowOrAnsweredTooLateForIsForgotten() {
        var sockets = CountedSockets()
        let claimed = sockets.claim(Self.socket(3), owner: Self.owner)
        // Unconfirmed: not polled.
        #expect(claimed && sockets.confirmed.isEmpty && sockets.count == 1)
        let answer = sockets.looked(up: 3, found: nil)
        #expect(!answer.counting && answer.charges.isEmpty)
        #expect(sockets.count == 0 && sockets.totals.refused == 1)
        let claimedAgain = sockets.claim(Self.socket(3), owner: Self.owner)
        sockets.abandon(3)
        let late = sockets.looked(up: 3, found: Self.counters(5, 5))
        #expect(claimedAgain && !late.counting && late.charges.isEmpty && sockets.totals.refused == 2)
    }

    @Test func aSocketMissingAtTwoPollsIsSettledAsLost() {
        var sockets = CountedSockets()
        _ = sockets.claim(Self.socket(5), owner: Self.owner)
        _ = sockets.looked(up: 5, found: Self.counters(1, 1))
        #expect(!sockets.awaitsNotices)
        let firstMiss = sockets.polled(5, found: nil)
        #expect(firstMiss.isEmpty && sockets.count == 1 && sockets.awaitsNotices)
        // Seen again: the miss is forgiven.
        let seen = sockets.polled(5, found: Self.counters(4, 1))
        #expect(seen.map(\.bytes) == [3] && !sockets.awaitsNotices)
        let missed = sockets.polled(5, found: nil)
        #expect(missed.isEmpty && sockets.count == 1)
        let missedTwice = sockets.polled(5, found: nil)
        #expect(missedTwice.isEmpty && sockets.count == 0)
        #expect(sockets.totals.lost == 1 && sockets.totals.bytes == 5)
    }

    @Test func theKernelsMessagesAreReadStrictly() throws {
        let lookup = SockDiagMessages.lookup(Self.socket(0x1_0000_0002), sequence: 9)
        #expect(lookup.count == SockDiagMessages.requestSize)
        // Cut short, too long, a socket description short of inet_diag_msg, a bad attribute.
        #expect(throws: SockDiagError.self) { try SockDiagMessages.messages(in: Array(lookup.prefix(10))) }
        var long = lookup
        long[0] = 0xFF
        #expect(throws: SockDiagError.self) { try SockDiagMessages.messages(in: long) }
        #expect(throws: SockDiagError.self) { try SockDiagMessages.messages(in: lookup) }  // 56 bytes: short of 72
        var socketMessage = Self.message(attributes: [5, 0, 2, 0, 0, 0, 0, 0])  // an INET_DIAG_INFO of 1 byte: no counters in it
        #expect(throws: SockDiagError.self) { try SockDiagMessages.messages(in: socketMessage) }
        socketMessage = Self.message(attributes: [64, 0, 9, 0])  // an attribute longer than its message
        #expect(throws: SockDiagError.self) { try SockDiagMessages.messages(in: socketMessage) }
        let plain = try SockDiagMessages.messages(in: Self.message(attributes: []))
        #expect(plain.count == 1 && plain[0].sequence == 4)
        guard case .socket(let described) = plain[0].message else { Issue.record("\(plain)"); return }
        #expect(described.family == .ipv4 && described.counters == nil)
    }

    /// A SOCK_DIAG_BY_FAMILY message of an IPv4 socket with `attributes` after its description.
    static func message(attributes: [UInt8]) -> [UInt8] {
        let length = SockDiagMessages.headerSize + SockDiagMessages.socketMessageSize + attributes.count
        var bytes = withUnsafeBytes(of: UInt32(length).littleEndian) { Array($0) } + [20, 0, 0, 0] + withUnsafeBytes(of: UInt32(4)) { Array($0) }
            + [0, 0, 0, 0]
        var description = [UInt8](repeating: 0, count: SockDiagMessages.socketMessageSize)
        description[0] = 2  // AF_INET
        bytes += description + attributes
        return bytes
    }
}
