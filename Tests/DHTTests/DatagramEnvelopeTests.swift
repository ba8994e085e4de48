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
        let datagram = try alice.seal(message, to: bob.identity.publicKey)
        #expect(datagram.count == DatagramEnvelope.overhead + message.count)
        #expect(Array(datagram[0..<32]) == alice.identity.publicKey.bytes, "the sender id leads in clear")
        let (sender, opened) = try bob.open(datagram)
        #expect(sender == alice.identity.publicKey)
        #expect(opened == message)
        #expect(try Message.decode(cbor: opened) == Message(txid: 42, body: .pingRequest))
        // And back.
        let reply = try bob.seal(message, to: alice.identity.publicKey)
        #expect(try alice.open(reply).message == message)
    }

    @Test func noncesStartRandomAndIncrementLittleEndian() throws {
        let first = try alice.seal(message, to: bob.identity.publicKey)
        let second = try alice.seal(message, to: bob.identity.publicKey)
        var expected = Array(first[32..<56])
        for index in expected.indices {
            expected[index] &+= 1
            if expected[index] != 0 { break }
        }
        #expect(Array(second[32..<56]) == expected)
        let other = DatagramEnvelope(identity: KeyPair.random())
        #expect(Array(try other.seal(message, to: bob.identity.publicKey)[32..<56]) != Array(first[32..<56]))
        _ = try bob.open(first)
        _ = try bob.open(second)
    }

    @Test func everyTamperedByteIsRejected() throws {
        let datagram = try alice.seal(message, to: bob.identity.publicKey)
        for index in 32..<datagram.count {
            var tampered = datagram
            tampered[index] ^= 0x01
            #expect(reason { _ = try bob.open(tampered) } == .authenticationFailed, "byte \(index)")
        }
        // A flipped sender id names another key: still refused.
        var otherSender = datagram
        otherSender[5] ^= 0x01
        #expect([.authenticationFailed, .invalidPeerKey].contains(reason { _ = try bob.open(otherSender) }))
        #expect(try bob.open(datagram).message == message, "the genuine datagram still opens afterwards")
    }

    @Test func wrongKeyIsRejected() throws {
        let carol = DatagramEnvelope(identity: KeyPair.random())
        let datagram = try alice.seal(message, to: bob.identity.publicKey)
        #expect(reason { _ = try carol.open(datagram) } == .authenticationFailed)
    }

    @Test func truncatedDatagramsAreRejected() throws {
        let datagram = try alice.seal(message, to: bob.identity.publicKey)
        #expect(reason { _ = try bob.open(Array(datagram.prefix(73))) } == .truncated)
        #expect(reason { _ = try bob.open([]) } == .truncated)
        #expect(reason { _ = try bob.open(Array(datagram.dropLast())) } == .authenticationFailed)
    }

    @Test func replayedNoncesAreRejected() throws {
        let first = try alice.seal(message, to: bob.identity.publicKey)
        let second = try alice.seal(message, to: bob.identity.publicKey)
        _ = try bob.open(first)
        #expect(reason { _ = try bob.open(first) } == .replayed)
        _ = try bob.open(second)
        #expect(reason { _ = try bob.open(first) } == .replayed, "older nonces in the window are refused too")
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
        #expect(reason { _ = try alice.seal(message, to: alice.identity.publicKey) } == .selfAddressed)
        let forged = alice.identity.publicKey.bytes + [UInt8](repeating: 1, count: 60)
        #expect(reason { _ = try alice.open(forged) } == .selfAddressed)
    }

    @Test func invalidSenderKeyIsRejected() throws {
        // An id that is not a point on the curve cannot be converted to X25519.
        var bytes = [UInt8](repeating: 0xFF, count: 32)
        bytes[31] = 0x7F
        let datagram = bytes + [UInt8](repeating: 1, count: 60)
        #expect(reason { _ = try bob.open(datagram) } == .invalidPeerKey)
    }

    @Test func forgedDatagramsDoNotFillTheContextCache() throws {
        let receiver = DatagramEnvelope(identity: KeyPair.random(), maxContexts: 5)
        for _ in 0..<50 {
            let forged = KeyPair.random().publicKey.bytes + Sodium.randomBytes(24 + 16 + 20)
            #expect(reason { _ = try receiver.open(forged) } == .authenticationFailed)
        }
        #expect(receiver.cachedPeerCount == 0)
        #expect(receiver.rejectionCounts[.authenticationFailed] == 50)
        // Genuine peers are cached; a full cache drops its least recently used eighth (here one).
        let senders = (0..<6).map { _ in DatagramEnvelope(identity: KeyPair.random()) }
        var replayable: [[UInt8]] = []
        for sender in senders {
            let datagram = try sender.seal(message, to: receiver.identity.publicKey)
            _ = try receiver.open(datagram)
            replayable.append(datagram)
        }
        #expect(receiver.cachedPeerCount == 5)
        #expect(reason { _ = try receiver.open(replayable[5]) } == .replayed, "a cached peer keeps its replay window")
        _ = try receiver.open(try senders[0].seal(message, to: receiver.identity.publicKey))
    }

    @Test func expiredContextsRestartTheNonceCounter() throws {
        let sender = DatagramEnvelope(identity: KeyPair.random(), contextLifetime: .milliseconds(1))
        let first = try sender.seal(message, to: bob.identity.publicKey)
        Thread.sleep(forTimeInterval: 0.01)
        let second = try sender.seal(message, to: bob.identity.publicKey)
        var following = Array(first[32..<56])
        following[0] &+= 1
        #expect(Array(second[32..<56]) != following, "a rebuilt context starts from a new random nonce")
        #expect(try bob.open(second).message == message)
    }

    @Test func concurrentSealsNeverReuseANonce() async throws {
        let target = bob.identity.publicKey
        let envelope = alice
        let payload = message
        let nonces = try await withThrowingTaskGroup(of: [UInt8].self) { group in
            for _ in 0..<400 { group.addTask { Array(try envelope.seal(payload, to: target)[32..<56]) } }
            var all: [[UInt8]] = []
            for try await nonce in group { all.append(nonce) }
            return all
        }
        #expect(Set(nonces).count == 400)
    }
}
