import CarrierCore
import NIOCore
import Synchronization

/// Answers to writes (STORE_VALUE, ANNOUNCE_PEER) waiting to be sent once their commit is durable.
///
/// The storage's writer thread posts them as each group commits (`post`, from any thread); the
/// first post of a batch queues one task on the node's loop, and that task takes every answer
/// posted meanwhile (`take`), so a group of writes costs one hop to the loop and its answers leave
/// together (`DHTNode.sendDurableAnswers`, one `sendmmsg`).
final class DurableAnswers: Sendable {
    /// One answer: to whom, in which family, for which request.
    struct Answer: Sendable {
        let node: NodeInfo
        let family: AddressFamily
        let txid: UInt64
        let body: Message.Body
    }

    private let waiting = Mutex<[Answer]>([])

    /// Adds `answer`; true when it is the first of a batch, so the caller queues the task that
    /// takes them.
    func post(_ answer: Answer) -> Bool {
        waiting.withLock { waiting in
            waiting.append(answer)
            return waiting.count == 1
        }
    }

    /// Every answer posted since the last call.
    func take() -> [Answer] {
        waiting.withLock { waiting in
            defer { waiting = [] }
            return waiting
        }
    }
}
