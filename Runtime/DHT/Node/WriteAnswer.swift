import CarrierCore

/// How one of the closest nodes answered a store or an announcement.
public enum WriteAnswer: Sendable, Equatable {
    case accepted
    /// It holds a version newer than the write's `cas` (error 301): a read-modify-write must
    /// read again.
    case conflict
    /// Any other error, no token, or no answer.
    case failed

    /// Of two families' answers for one node, the more telling: accepted, then conflict.
    func merged(with other: WriteAnswer) -> WriteAnswer {
        if self == .accepted || other == .accepted { return .accepted }
        if self == .conflict || other == .conflict { return .conflict }
        return .failed
    }
}
