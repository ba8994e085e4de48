#if os(Linux)
import CarrierCore
import CarrierDHT
import Foundation
import Glibc
import Synchronization

extension RequestRateBenchmark {
    /// Another client storing values on the node at a steady `rate` from a thread of its own,
    /// while the PING rate is measured again: every STORE_VALUE is a durable SQLite write on the
    /// node, so the ratio of the two PING rates shows whether writes stall reads.
    ///
    /// Its `poolSize` requests are sealed beforehand, each for a value of its own with the token
    /// the node gave this client for it; they come round every `poolSize / rate` seconds, far
    /// outside the replay window, and a value stored again is a refresh: a write all the same.
    final class StoreFlood: Sendable {
        static let rate = 2_000
        static let poolSize = 2_048

        private let client: Client
        private let requests: [[UInt8]]
        private let running = Atomic<Bool>(false)
        private let sent = Atomic<Int>(0)
        private let answered = Atomic<Int>(0)
        private let done = DispatchSemaphore(value: 0)

        /// Introduces a new client to `node` and seals its requests.
        init(port: UInt16, node: Id) throws {
            client = try Client(identity: KeyPair.random(), port: port)
            try RequestRateBenchmark.introduce(client, to: node)
            let client = self.client
            requests = try (0..<Self.poolSize).map { index in
                let value = Value.immutable(Array("store flood \(index) ".utf8) + Sodium.randomBytes(64))
                usleep(600)  // within the node's inbound limit for one contact (2,048 a second)
                let token = try Self.token(for: value.id, from: client, to: node)
                let store = Message(txid: firstTxid + UInt64(index), body: .storeValueRequest(StoreValueRequest(token: token, value: value)))
                return try client.envelope.seal(store.cbor, to: node, family: .ipv4)
            }
        }

        /// The write token `node` gives `client` for `target` (a FIND_NODE asking for one); the
        /// node's own PINGs to its new contact, which may come first, are answered.
        private static func token(for target: Id, from client: Client, to node: Id) throws -> Int32 {
            try client.send(Message(txid: firstTxid, body: .findNodeRequest(FindNodeRequest(target: target, want: [.ipv4, .token]))), to: node)
            while let datagram = client.receive(), let message = RequestRateBenchmark.decode(datagram, by: client) {
                switch message.body {
                case .pingRequest: try client.send(Message(txid: message.txid, body: .pingResponse), to: node)
                case .findNodeResponse(let response) where response.token != 0: return response.token
                default: throw Failure("a FIND_NODE for a write token was answered with \(message.body)")
                }
            }
            throw Failure("the node did not answer a FIND_NODE for a write token")
        }

        /// Starts sending on a thread pinned to `core` (the load generator's).
        func start(onCore core: Int) {
            running.store(true, ordering: .relaxed)
            Task {
                await RequestRateBenchmark.onThread(pinnedTo: core) {
                    self.flood()
                    self.done.signal()  // from the flood's own thread: `stop` blocks a pool thread
                }
            }
        }

        /// Stops sending; returns the stores sent and those answered (without an error).
        func stop() -> (sent: Int, answered: Int) {
            running.store(false, ordering: .relaxed)
            done.wait()
            client.close()
            return (sent.load(ordering: .relaxed), answered.load(ordering: .relaxed))
        }

        /// Sends `rate` requests a second, in steps of a millisecond, and counts the answers.
        private func flood() {
            let started = ContinuousClock.now
            var next = 0
            var buffer = [UInt8](repeating: 0, count: 2048)
            while running.load(ordering: .relaxed) {
                let due = Int((ContinuousClock.now - started).seconds * Double(Self.rate))
                while next < due {
                    let request = requests[next % requests.count]
                    if request.withUnsafeBytes({ Glibc.send(client.socket, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }) == request.count {
                        sent.add(1, ordering: .relaxed)
                    }
                    next += 1
                }
                while true {
                    let received = buffer.withUnsafeMutableBytes { recv(client.socket, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
                    guard received > 0 else { break }
                    if let answer = RequestRateBenchmark.decode(Array(buffer[..<received]), by: client), answer.body == .storeValueResponse {
                        answered.add(1, ordering: .relaxed)
                    }
                }
                usleep(1_000)
            }
        }
    }
}
#endif
