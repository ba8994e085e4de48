import CarrierCore

/// How one of the closest nodes answered a store or an announcement.
public enum WriteAnswer: Sendable, Equatable {
    case accepted
    /// It holds a version newer than the write's `cas` (error 301): a read-modify-write must
    /// read again.
    case conflict
    /// It holds a greater `seq`, or other content at the write's `seq` (error 302): the write
    /// was not taken; its writer must read and write a greater `seq`.
    case stale
    /// Any other error, no token, or no answer.
    case failed

    /// Of two families' answers for one node, the more telling: accepted, then conflict, then stale.
    func merged(with other: WriteAnswer) -> WriteAnswer {
        for answer in [WriteAnswer.accepted, .conflict, .stale] where self == answer || other == answer { return answer }
        return .failed
    }
}
