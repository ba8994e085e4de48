import CarrierCore

/// Which TCP sockets the host counts the bytes of, for whom, and how much of each it has billed:
/// a pure state machine that `SocketMeter` feeds with what the kernel says (the answer to a
/// lookup, a poll, a destroy notice) and that answers with the charges to record.
///
/// A socket is claimed before the kernel is asked about it, so that the destroy notice of a
/// socket the lookup found, arriving before its answer is taken in, is kept, not lost. Each charge is the growth of the kernel's count since
/// the last one, so a byte is billed once whichever report comes first. A counted socket the
/// kernel no longer has at two polls in a row with no destroy notice (the kernel drops notices when
/// the host reads them too slowly) is settled at what it had counted and reported as lost.
struct CountedSockets {
    /// Whom a socket's bytes are billed to, and under which meter of which plugin's plans.
    struct Owner: Sendable, Equatable {
        let plugin: String
        let client: Id
        let meter: String
        let section: BillingSection
    }

    /// Bytes to bill.
    struct Charge: Sendable, Equatable {
        let owner: Owner
        let bytes: UInt64
    }

    /// What has happened to the sockets counted so far (for `/metrics`).
    struct Totals: Sendable, Equatable {
        var counted = 0
        var refused = 0
        var ended = 0
        var lost = 0
        var bytes: UInt64 = 0
    }

    private struct Entry {
        let owner: Owner
        let socket: KernelSocket
        var billed: UInt64 = 0
        /// The kernel confirmed the socket (a lookup found it).
        var confirmed = false
        /// Its last counters, from a destroy notice that came before the lookup's answer.
        var final: TCPCounters?
        var missedPolls = 0
    }

    private var entries: [UInt64: Entry] = [:]
    private(set) var totals = Totals()

    /// How many sockets are counted now (claimed ones included).
    var count: Int { entries.count }

    /// Claims `socket` for `owner`; false when it is counted already.
    mutating func claim(_ socket: KernelSocket, owner: Owner) -> Bool {
        guard entries[socket.cookie] == nil else { return false }
        entries[socket.cookie] = Entry(owner: owner, socket: socket)
        return true
    }

    /// Gives up claimed socket `cookie` unconfirmed (the claimer stopped waiting for the answer):
    /// its bytes are not the host's to bill.
    mutating func abandon(_ cookie: UInt64) {
        guard let entry = entries[cookie], !entry.confirmed else { return }
        entries[cookie] = nil
        totals.refused += 1
    }

    /// Whether a confirmed socket the kernel no longer had at the last poll still waits for its
    /// destroy notice (which the kernel sends from a work queue, a little after the socket goes).
    var awaitsNotices: Bool { entries.values.contains { $0.confirmed && $0.missedPolls > 0 } }

    /// The sockets confirmed and still counted, to poll.
    var confirmed: [KernelSocket] { entries.values.filter(\.confirmed).map(\.socket) }

    /// The kernel's answer to the lookup of claimed socket `cookie`: its counters, or nil when it
    /// has no such socket. Returns whether the socket is counted, and what to bill now (its bytes
    /// so far; all of them when it was destroyed after the lookup found it).
    ///
    /// A socket the lookup did not find is not counted, even when its destroy notice came
    /// meanwhile: the kernel sends notices from a work queue, so the notice of a socket closed
    /// before it was handed over can arrive after the claim. The caller is told `.notFound` and
    /// bills it itself, as the ABI says, and the host bills nothing of it.
    mutating func looked(up cookie: UInt64, found counters: TCPCounters?) -> (counting: Bool, charges: [Charge]) {
        guard var entry = entries[cookie], !entry.confirmed else { return (false, []) }
        guard let counters else {
            entries[cookie] = nil
            totals.refused += 1
            return (false, [])
        }
        if let final = entry.final {
            entries[cookie] = nil
            totals.counted += 1
            totals.ended += 1
            return (true, charge(&entry, final).map { [$0] } ?? [])
        }
        entry.confirmed = true
        totals.counted += 1
        let charges = charge(&entry, counters).map { [$0] } ?? []
        entries[cookie] = entry
        return (true, charges)
    }

    /// A destroy notice: the socket's last counters (nil when the notice carried none).
    mutating func destroyed(_ cookie: UInt64, counters: TCPCounters?) -> [Charge] {
        guard var entry = entries[cookie] else { return [] }
        guard entry.confirmed else {
            entry.final = counters ?? TCPCounters(received: 0, sentOnce: 0)
            entries[cookie] = entry
            return []
        }
        entries[cookie] = nil
        totals.ended += 1
        return counters.flatMap { charge(&entry, $0) }.map { [$0] } ?? []
    }

    /// A poll of confirmed socket `cookie`: its counters, or nil when the kernel no longer has
    /// it. Bills what it added; settles it when it was missing at this poll and the one before.
    mutating func polled(_ cookie: UInt64, found counters: TCPCounters?) -> [Charge] {
        guard var entry = entries[cookie], entry.confirmed else { return [] }
        guard let counters else {
            if entry.missedPolls >= 1 {
                entries[cookie] = nil
                totals.lost += 1
            } else {
                entry.missedPolls += 1
                entries[cookie] = entry
            }
            return []
        }
        entry.missedPolls = 0
        let charge = charge(&entry, counters)
        entries[cookie] = entry
        return charge.map { [$0] } ?? []
    }

    /// Forgets every socket still counted (the host stops, having billed their counts so far).
    mutating func forgetAll() {
        entries = [:]
    }

    /// The growth of `counters` over what `entry` billed, recorded as billed.
    private mutating func charge(_ entry: inout Entry, _ counters: TCPCounters) -> Charge? {
        guard counters.total > entry.billed else { return nil }
        let bytes = counters.total - entry.billed
        entry.billed = counters.total
        totals.bytes &+= bytes
        return Charge(owner: entry.owner, bytes: bytes)
    }
}
