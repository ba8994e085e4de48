import CarrierCore
import CarrierDHT
import Foundation
import Testing

/// The sealed datagram: senderId ‖ nonce ‖ MAC ‖ ciphertext, and every rejection rule.
struct DatagramEnvelopeTests {
    let alice = DatagramEnvelope(identity: KeyPair.random())
    let bob = DatagramEnvelope(identity: KeyPair.random())
    let message = Message(txid: 42, body: .pingRequest).cbor

    private func reason(_ body: () throws -> Void) -> EnvelopeError.Reason? {
        do { try body() } catch let error as EnvelopeError { return error.reason } catch { return nil }
        return nil
    }

    @Test func sealAndOpenBetweenTwoIdentities() throws {
        let datagram = try alice.seal(message, to: bob.identity.publicKey, family: .ipv4)
        #expect(datagram.count == DatagramEnvelope.overhead + message.count)
        #expect(Array(datagram[0..<32]) == alice.identity.publicKey.bytes, "the sender id leads in clear")
        let (sender, opened) = try bob.open(datagram, family: .ipv4)
        #expect(sender == alice.identity.publicKey)
        #expect(opened == message)
        #expect(try Message.decode(cbor: opened) == Message(txid: 42, body: .pingRequest))
        // And back.
        let reply = try bob.seal(message, to: alice.identity.publicKey, family: .ipv4)
        #expect(try alice.open(reply, family: .ipv4).message == message)
    }

    @Test func noncesStartRandomAndIncrementLittleEndian() throws {
        let first = try alice.seal(message, to: bob.identity.publicKey, family: .ipv4)
        let second = try alice.seal(message, to: bob.identity.publicKey, family: .ipv4)
        #expect(Array(second[32..<56]) == Self.increment(Array(first[32..<56])))
        let other = DatagramEnvelope(identity: KeyPair.random())
        #expect(Array(try other.seal(message, to: bob.identity.publicKey, family: .ipv4)[32..<56]) != Array(first[32..<56]))
        _ = try bob.open(first, family: .ipv4)
        _ = try bob.open(second, family: .ipv4)
    }

    @Test func everyTamperedByteIsRejected() throws {
        let datagram = try alice.seal(message, to: bob.identity.publicKey, family: .ipv4)
        for index in 32..<datagram.count {
            var tampered = datagram
            tampered[index] ^= 0x01
            #expect(reason { _ = try bob.open(tampered, family: .ipv4) } == .authenticationFailed, "byte \(index)")
        }
        // A flipped sender id names another key: still refused.
        var otherSender = datagram
        otherSender[5] ^= 0x01
        #expect([.authenticationFailed, .invalidPeerKey].contains(reason { _ = try bob.open(otherSender, family: .ipv4) }))
        #expect(try bob.open(datagram, family: .ipv4).message == message, "the genuine datagram still opens afterwards")
    }

    @Test func wrongKeyIsRejected() throws {
        let carol = DatagramEnvelope(identity: KeyPair.random())
        let datagram = try alice.seal(message, to: bob.identity.publicKey, family: .ipv4)
        #expect(reason { _ = try carol.open(datagram, family: .ipv4) } == .authenticationFailed)
    }

    @Test func truncatedDatagramsAreRejected() throws {
        let datagram = try alice.seal(message, to: bob.identity.publicKey, family: .ipv4)
        #expect(reason { _ = try bob.open(Array(datagram.prefix(73)), family: .ipv4) } == .truncated)
        #expect(reason { _ = try bob.open([], family: .ipv4) } == .truncated)
        #expect(reason { _ = try bob.open(Array(datagram.dropLast()), family: .ipv4) } == .authenticationFailed)
    }

    @Test func replayedNoncesAreRejected() throws {
        let first = try alice.seal(message, to: bob.identity.publicKey, family: .ipv4)
        let second = try alice.seal(message, to: bob.identity.publicKey, family: .ipv4)
        _ = try bob.open(first, family: .ipv4)
        #expect(reason { _ = try bob.open(first, family: .ipv4) } == .replayed)
        _ = try bob.open(second, family: .ipv4)
        #expect(reason { _ = try bob.open(first, family: .ipv4) } == .replayed, "older nonces in the window are refused too")
        #expect(bob.rejectionCounts[.replayed] == 2)
    }

    @Test func oversizedDatagramsAreRejectedBothWays() throws {
        let limit4 = 1400 - DatagramEnvelope.overhead
        _ = try alice.seal([UInt8](repeating: 0, count: limit4), to: bob.identity.publicKey, family: .ipv4)
        #expect(reason { _ = try alice.seal([UInt8](repeating: 0, count: limit4 + 1), to: bob.identity.publicKey, family: .ipv4) } == .oversized)
        let limit6 = 1200 - DatagramEnvelope.overhead
        #expect(reason { _ = try alice.seal([UInt8](repeating: 0, count: limit6 + 1), to: bob.identity.publicKey, family: .ipv6) } == .oversized)
        #expect(reason { _ = try bob.open([UInt8](repeating: 7, count: 1913), family: .ipv4) } == .oversized)
        #expect(reason { _ = try bob.open([UInt8](repeating: 7, count: 1713), family: .ipv6) } == .oversized)
    }

    @Test func selfAddressedDatagramsAreRejected() throws {
        #expect(reason { _ = try alice.seal(message, to: alice.identity.publicKey, family: .ipv4) } == .selfAddressed)
        let forged = alice.identity.publicKey.bytes + [UInt8](repeating: 1, count: 60)
        #expect(reason { _ = try alice.open(forged, family: .ipv4) } == .selfAddressed)
    }

    @Test func invalidSenderKeyIsRejected() throws {
        // An id that is not a point on the curve cannot be converted to X25519.
        var bytes = [UInt8](repeating: 0xFF, count: 32)
        bytes[31] = 0x7F
        let datagram = bytes + [UInt8](repeating: 1, count: 60)
        #expect(reason { _ = try bob.open(datagram, family: .ipv4) } == .invalidPeerKey)
    }

    @Test func forgedDatagramsDoNotFillTheContextCache() throws {
        let receiver = DatagramEnvelope(identity: KeyPair.random(), maxContexts: 5)
        for _ in 0..<50 {
            let forged = KeyPair.random().publicKey.bytes + Sodium.randomBytes(24 + 16 + 20)
            #expect(reason { _ = try receiver.open(forged, family: .ipv4) } == .authenticationFailed)
        }
        #expect(receiver.cachedPeerCount == 0)
        #expect(receiver.rejectionCounts[.authenticationFailed] == 50)
    }

    /// A full cache drops its least recently used eighth (here one peer): that peer's replay window
    /// goes with it, while a recently active peer keeps its own.
    @Test func aFullCacheEvictsTheLeastRecentlyUsedPeer() throws {
        let receiver = DatagramEnvelope(identity: KeyPair.random(), maxContexts: 5)
        let senders = (0..<6).map { _ in DatagramEnvelope(identity: KeyPair.random()) }
        var captured: [[UInt8]] = []
        for sender in senders[0..<5] {
            let datagram = try sender.seal(message, to: receiver.identity.publicKey, family: .ipv4)
            _ = try receiver.open(datagram, family: .ipv4)
            captured.append(datagram)
        }
        // Sender 0 speaks again, so sender 1 is now the least recently used.
        _ = try receiver.open(try senders[0].seal(message, to: receiver.identity.publicKey, family: .ipv4), family: .ipv4)
        _ = try receiver.open(try senders[5].seal(message, to: receiver.identity.publicKey, family: .ipv4), family: .ipv4)
        #expect(receiver.cachedPeerCount == 5)
        #expect(reason { _ = try receiver.open(captured[0], family: .ipv4) } == .replayed, "sender 0 kept its window")
        #expect(reason { _ = try receiver.open(captured[2], family: .ipv4) } == .replayed, "sender 2 kept its window")
        #expect(try receiver.open(captured[1], family: .ipv4).sender == senders[1].identity.publicKey,
                "sender 1 was evicted, and with it its replay window (the documented limit of a bounded cache)")
    }

    @Test func aReflectedDatagramIsRejected() throws {
        // Alice's datagram to Bob, sent back to Alice with Bob's id in front, opens under the same
        // shared key; Alice must recognise her own nonce.
        let datagram = try alice.seal(message, to: bob.identity.publicKey, family: .ipv4)
        let reflected = bob.identity.publicKey.bytes + datagram[32...]
        #expect(reason { _ = try alice.open(reflected, family: .ipv4) } == .reflected)
        #expect(alice.rejectionCounts[.reflected] == 1)
        // Bob's genuine datagrams to Alice still open.
        #expect(try alice.open(try bob.seal(message, to: alice.identity.publicKey, family: .ipv4), family: .ipv4).sender == bob.identity.publicKey)
    }

    @Test func tooShortMessagesAreNotSealed() {
        #expect(reason { _ = try alice.seal([0xA0], to: bob.identity.publicKey, family: .ipv4) } == .truncated)
    }

    @Test func expiredContextsRestartTheNonceCounter() throws {
        let sender = DatagramEnvelope(identity: KeyPair.random(), contextLifetime: .milliseconds(1))
        let first = try sender.seal(message, to: bob.identity.publicKey, family: .ipv4)
        Thread.sleep(forTimeInterval: 0.01)
        let second = try sender.seal(message, to: bob.identity.publicKey, family: .ipv4)
        #expect(Array(second[32..<56]) != Self.increment(Array(first[32..<56])), "a rebuilt context starts from a new random nonce")
        #expect(try bob.open(second, family: .ipv4).message == message)
    }

    /// +1 little-endian with carry, as libsodium's `sodium_increment`.
    static func increment(_ nonce: [UInt8]) -> [UInt8] {
        var next = nonce
        for index in next.indices {
            next[index] &+= 1
            if next[index] != 0 { break }
        }
        return next
    }

    @Test func concurrentSealsNeverReuseANonce() async throws {
        let target = bob.identity.publicKey
        let envelope = alice
        let payload = message
        let nonces = try await withThrowingTaskGroup(of: [UInt8].self) { group in
            for _ in 0..<400 { group.addTask { Array(try envelope.seal(payload, to: target, family: .ipv4)[32..<56]) } }
            var all: [[UInt8]] = []
            for try await nonce in group { all.append(nonce) }
            return all
        }
        #expect(Set(nonces).count == 400)
    }
}
