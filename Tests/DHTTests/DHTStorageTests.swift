import CarrierCore
import CarrierDHT
import Foundation
import Testing

/// Value and peer storage in SQLite: the protocol's seq, CAS and substitution rules, expiry,
/// republishing, limits, and survival across a reopen.
struct DHTStorageTests {
    let owner = KeyPair.random()
    /// The node whose storage this is.
    let node = Id.random()
    let path = NSTemporaryDirectory() + "carrier-storage-\(UUID().uuidString).sqlite"

    private func code(_ body: () async throws -> Void) async -> ErrorCode? {
        do { try await body() } catch let error as ProtocolError { return error.code } catch { return nil }
        return nil
    }

    @Test func onlyChangesOfContentAreAnnouncedAsEvents() async throws {
        let storage = try DHTStorage(path: path, owner: node)
        var events: AsyncStream<DHTEvent>? = storage.changes.subscribe()
        let v1 = Value.signed(by: owner, sequenceNumber: 1, data: Array("one".utf8))
        let v2 = Value.signed(by: owner, sequenceNumber: 2, data: Array("two".utf8))
        #expect(try await storage.putValue(v1, now: 1000))
        #expect(try await storage.putValue(v1, now: 1100) == false, "a refresh is not a change")
        #expect(try await storage.putValue(v2, now: 1200))
        #expect(await code { try await storage.putValue(v1, cas: 0, now: 1300) } == .casFail)
        let peer = PeerInfo.create(owner: owner, endpoint: "tcp://192.0.2.1:80")
        #expect(try await storage.putPeer(peer, now: 1000))
        #expect(try await storage.putPeer(peer, now: 1100) == false)
        var received: [DHTEvent] = []
        for await event in events! {
            received.append(event)
            if received.count == 3 { break }
        }
        #expect(received == [.valueUpdated(v1), .valueUpdated(v2), .peerAnnounced(peer)])
        #expect(storage.changes.subscriberCount == 1)
        events = nil
        #expect(storage.changes.subscriberCount == 0, "a stream let go of unsubscribes")
    }

    @Test func immutableAndSignedValuesFollowTheSeqRules() async throws {
        let storage = try DHTStorage(path: path, owner: node)
        let immutable = Value.immutable(Array("hello".utf8))
        try await storage.putValue(immutable, now: 1000)
        #expect(try storage.value(immutable.id, now: 2000) == immutable)

        let v3 = Value.signed(by: owner, sequenceNumber: 3, data: Array("three".utf8))
        try await storage.putValue(v3, now: 1000)
        #expect(await code { try await storage.putValue(Value.signed(by: owner, sequenceNumber: 2, data: Array("two".utf8)), now: 1100) } == .sequenceNotMonotonic,
                "a lower seq is refused, not answered as taken")
        #expect(await code { try await storage.putValue(Value.signed(by: owner, sequenceNumber: 3, data: Array("other".utf8)), now: 1100) } == .sequenceNotMonotonic,
                "other content at the stored seq is refused")
        #expect(try await storage.putValue(v3, now: 1150) == false, "the same value again refreshes it")
        #expect(try storage.value(owner.publicKey, now: 1200) == v3, "nothing refused replaced it")
        let v5 = Value.signed(by: owner, sequenceNumber: 5, data: Array("five".utf8))
        try await storage.putValue(v5, now: 1300)
        #expect(try storage.value(owner.publicKey, now: 1400) == v5)
        #expect(try storage.value(owner.publicKey, cas: 6, now: 1400) == nil, "FIND_VALUE with cas 6 gets nodes, not seq 5")
        #expect(try storage.value(owner.publicKey, cas: 5, now: 1400) == v5)
    }

    @Test func aSharedStoreIsPurgedOncePerIntervalWhicheverNodeAsks() throws {
        let store = try DHTStore(path: path)
        #expect(store.claimPurge(now: 100_000))
        #expect(!store.claimPurge(now: 100_000 + DHTStore.purgeInterval - 1), "another node's maintenance, within the interval")
        #expect(store.claimPurge(now: 100_000 + DHTStore.purgeInterval))
        #expect(store.claimPurge(now: 50_000), "a wall clock set back does not stop the purges")
    }

    @Test func protocolErrorsCarryTheirCodes() async throws {
        let storage = try DHTStorage(path: path, owner: node)
        try await storage.putValue(Value.signed(by: owner, sequenceNumber: 4, data: [1]), now: 0)
        #expect(await code { try await storage.putValue(Value.signed(by: owner, sequenceNumber: 9, data: [2]), cas: 3, now: 1) } == .casFail)
        let nine = Value.signed(by: owner, sequenceNumber: 9, data: [2])
        try await storage.putValue(nine, cas: 4, now: 1)
        #expect(try await storage.putValue(nine, cas: 4, now: 1) == false,
                "the same value again with its cas (a retry whose first answer was lost) is a refresh, not 301")
        // The same for a peer record.
        try await storage.putPeer(PeerInfo.create(owner: owner, fingerprint: 7, sequenceNumber: 4, endpoint: "tcp://192.0.2.1:4"), now: 0)
        let record = PeerInfo.create(owner: owner, fingerprint: 7, sequenceNumber: 9, endpoint: "tcp://192.0.2.1:9")
        try await storage.putPeer(record, cas: 4, now: 1)
        #expect(try await storage.putPeer(record, cas: 4, now: 1) == false, "a peer record resent with its cas is a refresh, not 301")
        let unread = PeerInfo.create(owner: owner, fingerprint: 7, sequenceNumber: 10, endpoint: "tcp://192.0.2.1:10")
        #expect(await code { try await storage.putPeer(unread, cas: 4, now: 2) } == .casFail)
        var forged = Value.signed(by: owner, sequenceNumber: 10, data: [3])
        forged.data = [4]
        #expect(await code { try await storage.putValue(forged, now: 2) } == .invalidValue)
        #expect(try storage.value(owner.publicKey, now: 3)?.data == [2], "nothing refused changed what is stored")
        // 303 (ImmutableSubstitutionFail) needs a valid signed value whose owner key equals the
        // SHA-256 of a stored immutable value: a hash preimage, so it cannot be built in a test.
    }

    @Test func peerRecordsAreOrderedAndCASChecked() async throws {
        let storage = try DHTStorage(path: path, owner: node)
        let node = KeyPair.random()
        let a = PeerInfo.create(owner: owner, node: node, fingerprint: 1, sequenceNumber: 1, endpoint: "tcp://192.0.2.1:1")
        let b = PeerInfo.create(owner: owner, fingerprint: 2, sequenceNumber: 3, endpoint: "tcp://192.0.2.2:2")
        let c = PeerInfo.create(owner: owner, fingerprint: 3, sequenceNumber: 1, endpoint: "tcp://192.0.2.3:3")
        try await storage.putPeer(a, now: 100)
        try await storage.putPeer(b, now: 100)
        try await storage.putPeer(c, now: 200)
        #expect(try storage.peers(owner.publicKey, limit: 8, now: 300).map(\.fingerprint) == [2, 3, 1], "seq desc, then newest")
        #expect(try storage.peers(owner.publicKey, cas: 2, limit: 8, now: 300).map(\.fingerprint) == [2])
        #expect(try storage.peers(owner.publicKey, limit: 1, now: 300).count == 1)
        #expect(await code { try await storage.putPeer(PeerInfo.create(owner: owner, fingerprint: 2, sequenceNumber: 4, endpoint: "x://y"), cas: 2, now: 400) } == .casFail)
        var forged = a
        forged.endpoint = "tcp://198.51.100.1:1"
        #expect(await code { try await storage.putPeer(forged, now: 400) } == .invalidPeer)
        #expect(try storage.peers(owner.publicKey, limit: 8, now: 400).first { $0.fingerprint == 1 } == a)
    }

    @Test func itemsExpireTwoHoursAfterTheirLastStoreUnlessPersistent() async throws {
        let storage = try DHTStorage(path: path, owner: node)
        let theirs = Value.immutable([1])
        let ours = Value.signed(by: owner, sequenceNumber: 0, data: [2])
        try await storage.putValue(theirs, now: 0)
        try await storage.putValue(ours, persistent: true, now: 0)
        try await storage.putValue(theirs, now: 60 * 60_000)  // refreshed after an hour
        #expect(try storage.value(theirs.id, now: 2 * 60 * 60_000 + 1) != nil)
        #expect(try storage.value(theirs.id, now: 3 * 60 * 60_000 + 1) == nil, "2 h after the last store")
        #expect(try await storage.purgeExpired(now: 3 * 60 * 60_000 + 1) == 1)
        #expect(try storage.value(ours.id, now: 10 * 60 * 60_000) == ours, "our own values stay")
        #expect(try storage.valuesToRepublish(now: 110 * 60_000, olderThan: 110 * 60_000) == [ours])
        try await storage.markValueAnnounced(ours.id, now: 110 * 60_000)
        #expect(try storage.valuesToRepublish(now: 111 * 60_000, olderThan: 110 * 60_000).isEmpty)
    }

    @Test func limitsRefuseWithGenericError() async throws {
        var limits = DHTStorage.Limits()
        limits.maxValues = 2
        limits.maxRecordsPerPeer = 1
        let storage = try DHTStorage(path: path, owner: node, limits: limits)
        try await storage.putValue(.immutable([1]), now: 0)
        try await storage.putValue(.immutable([2]), now: 0)
        #expect(await code { try await storage.putValue(.immutable([3]), now: 0) } == .genericError)
        try await storage.putValue(.immutable([2]), now: 1)  // refreshing a stored value is always allowed
        try await storage.putPeer(PeerInfo.create(owner: owner, fingerprint: 1, endpoint: "x://a"), now: 0)
        #expect(await code { try await storage.putPeer(PeerInfo.create(owner: owner, fingerprint: 2, endpoint: "x://b"), now: 0) } == .genericError)
        #expect(try storage.counts() == (values: 2, peers: 1))
    }

    @Test func storedItemsSurviveAReopen() async throws {
        let value = Value.signed(by: owner, sequenceNumber: 1, data: Array("durable".utf8))
        let peer = PeerInfo.create(owner: owner, endpoint: "https://example.com/x", extra: [0xA0])
        do {
            let storage = try DHTStorage(path: path, owner: node)
            try await storage.putValue(value, now: 0)
            try await storage.putPeer(peer, now: 0)
        }
        let reopened = try DHTStorage(path: path, owner: node)
        #expect(try reopened.value(owner.publicKey, now: 1) == value)
        #expect(try reopened.peers(owner.publicKey, limit: 8, now: 1) == [peer])
    }

    @Test func nodesSharingAStoreKeepTheirItemsApartAndShareCommits() async throws {
        let store = try DHTStore(path: path)
        let first = DHTStorage(store: store, owner: .random()), second = DHTStorage(store: store, owner: .random())
        let value = Value.signed(by: owner, sequenceNumber: 2, data: Array("first's".utf8))
        try await first.putValue(value, now: 0)
        #expect(try first.value(owner.publicKey, now: 1) == value)
        #expect(try second.value(owner.publicKey, now: 1) == nil, "another node's items are not its own")
        // The same id at a lower seq is refused by the first, taken by the second: their rules
        // read their own items only.
        let older = Value.signed(by: owner, sequenceNumber: 1, data: Array("second's".utf8))
        #expect(await code { try await first.putValue(older, now: 2) } == .sequenceNotMonotonic)
        try await second.putValue(older, now: 2)
        #expect(try second.value(owner.publicKey, now: 3) == older && first.value(owner.publicKey, now: 3) == value)
        // An update by one (a greater seq) leaves the other's row as it was.
        let newer = Value.signed(by: owner, sequenceNumber: 3, data: Array("second's newer".utf8))
        try await second.putValue(newer, now: 4)
        #expect(try first.value(owner.publicKey, now: 5) == value && second.value(owner.publicKey, now: 5) == newer)
        let peer = PeerInfo.create(owner: owner, endpoint: "tcp://192.0.2.1:80")
        try await first.putPeer(peer, persistent: true, now: 0)
        #expect(try first.peers(owner.publicKey, limit: 8, now: 1) == [peer] && second.peers(owner.publicKey, limit: 8, now: 1).isEmpty)
        #expect(try second.peersToRepublish(now: 1, olderThan: 0).isEmpty && first.peersToRepublish(now: 1, olderThan: 0) == [peer])
        #expect(try first.counts() == (values: 1, peers: 1) && second.counts() == (values: 1, peers: 0))
        // Expired items go whoever stored them (a node that left a shared store leaves none behind).
        #expect(try await second.purgeExpired(now: 3 * 60 * 60_000) == 2 && first.counts() == (values: 0, peers: 1),
                "both values expired; the persistent peer record stays")
        // 32 nodes' stores at once go through the store's one writer.
        let nodes = (0..<32).map { _ in DHTStorage(store: store, owner: .random()) }
        let before = store.commits
        await withTaskGroup(of: Void.self) { group in
            for node in nodes { group.addTask { _ = try? await node.putValue(.immutable([1, 2, 3]), now: 10) } }
        }
        #expect(try nodes.allSatisfy { try $0.counts().values == 1 })
        #expect(store.commits.writes - before.writes == 32, "all through the one writer (GroupCommitWriterTests shows the grouping)")
    }

    @Test func aFileThatIsNotADatabaseIsRefused() async throws {
        try Data(repeating: 0x42, count: 4096).write(to: URL(fileURLWithPath: path))
        #expect(throws: StorageError.self) { try DHTStorage(path: path, owner: node) }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data(repeating: 0x42, count: 4096), "left untouched")
    }
}
