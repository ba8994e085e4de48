/// What a search of the network (a value, a peer's records) came to. "Not found" is claimed only
/// when the lookup reached nodes and none of those closest to the target had it; when no node
/// answered at all, the network, not the item, is missing, and the caller is told so.
public enum SearchOutcome<Found: Sendable>: Sendable {
    case found(Found)
    /// The lookup reached the closest nodes it could find, and none had it.
    case notFound
    /// No node answered: the node is cut off (or every contact is failing).
    case unreachable

    /// What was found, if anything.
    public var found: Found? {
        if case .found(let found) = self { return found }
        return nil
    }
}

extension SearchOutcome: Equatable where Found: Equatable {}
