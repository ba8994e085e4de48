import CarrierCore

/// Something that changed in what this node stores, announced once it is durable. The host and
/// plugins watch these (a proxy pushes them to subscribed light nodes).
public enum DHTEvent: Sendable, Equatable {
    /// A value was stored for the first time, or replaced by one with a greater `seq`.
    case valueUpdated(Value)
    /// A peer record was announced for the first time, or with a greater `seq`.
    case peerAnnounced(PeerInfo)
}
