import NIOCore
import NIOHTTP1

/// The body of a streamed answer, written chunk by chunk from any thread. A client that does not
/// read (the socket's buffer above its high-water mark) is disconnected rather than buffered
/// for: one slow listener never holds up the others, and it reconnects when it can.
public final class HTTPStream: Sendable {
    private let channel: Channel

    init(channel: Channel) { self.channel = channel }

    /// Sends one chunk; false once the connection is closed or was closed for not reading.
    @discardableResult
    public func send(_ text: String) -> Bool {
        guard channel.isActive else { return false }
        let channel = self.channel
        channel.eventLoop.execute {
            guard channel.isActive else { return }
            guard channel.isWritable else {
                channel.close(promise: nil)
                return
            }
            let buffer = channel.allocator.buffer(string: text)
            channel.writeAndFlush(HTTPServerResponsePart.body(.byteBuffer(buffer)), promise: nil)
        }
        return true
    }

    /// Returns when the client closes the connection (or the server stops).
    public func closed() async {
        try? await channel.closeFuture.get()
    }

    /// Ends the body and closes the connection (if the client or the server has not already).
    public func finish() {
        let channel = self.channel
        guard channel.isActive else { return }
        channel.eventLoop.execute {
            channel.writeAndFlush(HTTPServerResponsePart.end(nil)).whenComplete { _ in channel.close(promise: nil) }
        }
    }
}
