import CarrierCore

/// The user event a Shadow connection's pipeline fires once its handshake is done: from then on
/// the handlers after the handshake read and write `ShadowFrame`s.
public struct ShadowAuthenticated: Sendable, Equatable {
    /// The other side's node id, proven by its signature.
    public let peer: Id
    public let cipher: ShadowCipher
}

/// The handshake did not finish within `HandshakeTimeout.limit`.
public struct HandshakeTimeout: Error, CustomStringConvertible {
    public static let limit = TimeAmount.seconds(10)
    public var description: String { "the handshake did not finish within 10 s" }
}

import NIOCore

extension ChannelPipeline.SynchronousOperations {
    /// Puts the sealed-frame codec for `keys` after `handler`, which then leaves the pipeline.
    func installFrames(_ keys: SessionKeys, after handler: ChannelHandler & RemovableChannelHandler) throws {
        try addHandlers([ByteToMessageHandler(SealedFrameDecoder(key: keys.receiving)), SealedFrameEncoder(key: keys.sending)],
                        position: .after(handler))
    }
}
