import CarrierCore
import CarrierDHT
import Testing

/// The K-bucket routing table: splitting, the true closest nodes, liveness and replacement rules,
/// and the per-source-unit diversity bound.
struct RoutingTableTests {
    let localId = Id.random()

    private func node(_ id: Id = .random(), address: String? = nil) -> NodeInfo {
        let host = address ?? "10.\(Int.random(in: 0...255)).\(Int.random(in: 0...255)).\(Int.random(in: 1...254))"
        return NodeInfo(id: id, address: IPAddress(host)!, port: 39001)
    }

    /// An id whose distance to `id` has exactly `leadingZeros` leading zero bits.
    private func id(near id: Id, sharedBits leadingZeros: Int) -> Id {
        let random = Id.random()
        let mask = Id.prefixMask(bits: leadingZeros)
        var candidate = (id & mask) | (random & ~mask)
        if candidate.bit(leadingZeros) == id.bit(leadingZeros) {
            candidate = candidate.distance(to: Id.zero.settingBit(leadingZeros))
        }
        return candidate
    }

    @Test func aFullHomeBucketSplitsAndFarBucketsDoNot() {
        var table = RoutingTable(localId: localId, bucketSize: 4, now: 0)
        // Eight contacts in the half of the space opposite to us: one bucket's worth is kept.
        for _ in 0..<8 { table.recordResponse(from: node(id(near: localId, sharedBits: 0)), now: 1) }
        #expect(table.count == 4)
        #expect(table.buckets.count == 2, "the first split separated the far half from ours")
        // Contacts ever closer to us keep splitting the home bucket.
        for bits in 1...20 { table.recordResponse(from: node(id(near: localId, sharedBits: bits)), now: 1) }
        #expect(table.count == 4 + 20)
        for bucket in table.buckets { #expect(bucket.entries.count <= 4) }
        #expect(table.buckets.filter { $0.contains(localId) }.count == 1)
        // Buckets tile the space: consecutive, starting at zero.
        #expect(table.buckets.first?.prefix == .zero)
        for bucket in table.buckets { #expect(bucket.entries.allSatisfy { bucket.contains($0.id) }) }
    }

    @Test func closestReturnsTheTrueKClosestEntries() {
        var table = RoutingTable(localId: localId, bucketSize: 16, maxEntriesPerSourceUnit: nil, now: 0)
        var known: [NodeInfo] = []
        for _ in 0..<2000 {
            let contact = node()
            if case .inserted = table.recordResponse(from: contact, now: 1) { known.append(contact) }
        }
        #expect(table.count == known.count)
        for _ in 0..<50 {
            let target = Id.random()
            let expected = known.sorted { target.isCloser($0.id, than: $1.id) }.prefix(16).map(\.id)
            #expect(table.closest(to: target, count: 16).map(\.id) == Array(expected))
        }
    }

    @Test func unsolicitedContactsWaitUntilTheyAnswer() {
        var table = RoutingTable(localId: localId, now: 0)
        let stranger = node()
        let askedToPing = table.recordRequest(from: stranger, now: 10)
        #expect(askedToPing, "an unknown sender should be pinged")
        #expect(table.count == 0, "a request alone does not make an entry")
        #expect(table.buckets[0].replacements.map(\.id) == [stranger.id])
        let answered = table.recordResponse(from: stranger, rtt: 12, now: 20)
        #expect(answered == .inserted)
        #expect(table.buckets[0].replacements.isEmpty)
        #expect(table.entry(for: stranger.id)?.created == 10, "it keeps when we first heard of it")
        #expect(table.entry(for: stranger.id)?.averageRTT == 12)
        let askedAgain = table.recordRequest(from: stranger, now: 30)
        #expect(!askedAgain, "a known entry needs no ping")
        #expect(table.entry(for: stranger.id)?.lastSeen == 30)
        let own = table.recordResponse(from: node(localId), now: 40)
        #expect(own == .ownId)
    }

    @Test func failingEntriesStopBeingHandedOutAndGiveWayToAnsweringCandidates() {
        var table = RoutingTable(localId: localId, bucketSize: 2, now: 0)
        let far = (0..<3).map { _ in node(id(near: localId, sharedBits: 0)) }
        let first = table.recordResponse(from: far[0], now: 1)
        #expect(first == .inserted)
        let second = table.recordResponse(from: far[1], now: 1)
        #expect(second == .inserted)
        // The far bucket is full and does not hold our id: the third waits as a verified candidate.
        _ = table.recordResponse(from: node(id(near: localId, sharedBits: 1)), now: 1)  // forces a split first
        let third = table.recordResponse(from: far[2], now: 1)
        #expect(third == .cached)
        for failure in 1...3 {
            table.recordTimeout(of: far[0].id, now: 100)
            #expect(table.entry(for: far[0].id)?.failedRequests == failure)
        }
        // It answered once, so it is only replaceable after more than 5 failures, or more than 2
        // while silent over 15 minutes; after 3 it is merely no longer handed out.
        #expect(table.entry(for: far[0].id)?.isEligible == false, "3 failures: no longer handed out")
        #expect(!table.closest(to: far[0].id, count: 16).contains(far[0]))
        table.recordTimeout(of: far[0].id, now: 20 * 60_000)
        #expect(table.entry(for: far[0].id) == nil, "4 failures and silent 20 minutes: replaced")
        #expect(table.entry(for: far[2].id)?.isEligible == true, "by the candidate that answered")
    }

    @Test func aReplaceableEntryIsTakenOverDirectly() {
        var table = RoutingTable(localId: localId, bucketSize: 1, now: 0)
        let first = node(id(near: localId, sharedBits: 0))
        table.recordResponse(from: first, now: 0)
        _ = table.recordResponse(from: node(id(near: localId, sharedBits: 1)), now: 0)
        for _ in 0..<6 { table.recordTimeout(of: first.id, now: 1000) }
        let second = node(id(near: localId, sharedBits: 0))
        let takeover = table.recordResponse(from: second, now: 2000)
        #expect(takeover == .replaced(first.id))
    }

    @Test func oneSourceUnitCannotFillTheTable() {
        var table = RoutingTable(localId: localId, maxEntriesPerSourceUnit: 8, now: 0)
        for _ in 0..<30 { table.recordResponse(from: node(address: "192.0.2.7"), now: 1) }
        #expect(table.count == 8)
        let ninth = table.recordResponse(from: node(address: "192.0.2.7"), now: 1)
        #expect(ninth == .sourceUnitFull)
        // An IPv6 /64 is one unit; another /64 is not.
        for index in 0..<12 { table.recordResponse(from: node(address: "2001:db8:1:2::\(index + 1)"), now: 1) }
        let otherPrefix = table.recordResponse(from: node(address: "2001:db8:1:3::1"), now: 1)
        #expect(otherPrefix == .inserted)
        #expect(table.count == 8 + 8 + 1)
        // Local testnets switch the bound off.
        var local = RoutingTable(localId: localId, maxEntriesPerSourceUnit: nil, now: 0)
        for _ in 0..<30 { local.recordResponse(from: node(address: "127.0.0.1"), now: 1) }
        #expect(local.count > 8)
    }

    @Test func pingScheduleFollowsTheReferenceRules() {
        var entry = RoutingEntry(node: node(), now: 0)
        #expect(!entry.needsPing(now: 10 * 60_000), "healthy and heard from 10 minutes ago")
        #expect(entry.needsPing(now: 16 * 60_000), "silent for more than 15 minutes")
        entry.lastSeen = 0
        entry.lastSent = 40_000
        entry.failedRequests = 1
        #expect(!entry.needsPing(now: 20_000), "never within 30 s of last seen")
        #expect(!entry.needsPing(now: 90_000), "backoff after 1 failure is 1 minute from the last send")
        #expect(entry.needsPing(now: 100_000))
        entry.failedRequests = 3
        #expect(!entry.needsPing(now: 40_000 + 3 * 60_000), "3 failures: 4 minutes")
        #expect(entry.needsPing(now: 40_000 + 4 * 60_000))
        entry.failedRequests = 9
        #expect(!entry.needsPing(now: 40_000 + 31 * 60_000), "backoff is capped at 32 minutes")
        #expect(entry.needsPing(now: 40_000 + 32 * 60_000))
    }

    @Test func refreshTargetsFallInTheirStaleBuckets() {
        var table = RoutingTable(localId: localId, bucketSize: 2, now: 0)
        for bits in 0..<6 { for _ in 0..<3 { table.recordResponse(from: node(id(near: localId, sharedBits: bits)), now: 0) } }
        let targets = table.refreshTargets(now: 15 * 60_000, interval: 15 * 60_000)
        #expect(targets.count == table.buckets.count)
        for (target, bucket) in zip(targets, table.buckets) { #expect(bucket.contains(target)) }
        table.markRefreshed(targets[0], now: 15 * 60_000)
        #expect(table.refreshTargets(now: 15 * 60_000, interval: 15 * 60_000).count == table.buckets.count - 1)
    }

    @Test func sourceUnitsAndGlobalAddresses() {
        #expect(SourceUnit(IPAddress("::ffff:192.0.2.1")!) == SourceUnit(IPAddress("192.0.2.1")!))
        #expect(SourceUnit(IPAddress("2001:db8::1")!) == SourceUnit(IPAddress("2001:db8::ffff")!))
        #expect(SourceUnit(IPAddress("2001:db8::1")!) != SourceUnit(IPAddress("2001:db8:0:1::1")!))
        for local in ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.1.1", "100.64.0.1", "0.0.0.0",
                      "224.0.0.1", "192.0.2.1", "::1", "fe80::1", "fc00::1", "2001:db8::1", "::ffff:10.0.0.1"] {
            #expect(!IPAddress(local)!.isGlobalUnicast, "\(local)")
        }
        for global in ["8.8.8.8", "155.138.245.211", "172.32.0.1", "2a01:4f8::1", "::ffff:45.32.138.246"] {
            #expect(IPAddress(global)!.isGlobalUnicast, "\(global)")
        }
    }
}

/// Bit operations on ids used by bucket ranges.
struct IdBitTests {
    @Test func masksAndBits() {
        #expect(Id.prefixMask(bits: 0) == .zero)
        #expect(Id.prefixMask(bits: 256) == .max)
        #expect(Id.prefixMask(bits: 1).hex.hasPrefix("80"))
        #expect(Id.prefixMask(bits: 70).hex == String(repeating: "f", count: 17) + "c" + String(repeating: "0", count: 46))
        #expect(Id.zero.settingBit(255) == Id(bytes: [UInt8](repeating: 0, count: 31) + [1]))
        #expect(Id.zero.settingBit(0).bit(0) && !Id.zero.settingBit(0).bit(1))
        let a = Id.random()
        #expect((a & ~a) == .zero && (a | ~a) == .max)
    }
}
