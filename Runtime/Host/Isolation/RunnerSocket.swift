import Foundation

/// One end of the `SOCK_SEQPACKET` socketpair between the host and a plugin runner. Each
/// `RunnerMessage` is one datagram, so message boundaries need no framing; both ends decode with
/// the same strict limits.
final class RunnerSocket: Sendable {
    let descriptor: Int32

    init(descriptor: Int32) {
        self.descriptor = descriptor
        var size: Int32 = 1 << 20
        setsockopt(descriptor, SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        setsockopt(descriptor, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
    }

    /// A connected pair with close-on-exec set on both ends.
    static func pair() throws -> (RunnerSocket, RunnerSocket) {
        var descriptors: [Int32] = [0, 0]
        guard socketpair(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &descriptors) == 0 else {
            throw RunnerError("socketpair failed: \(String(cString: strerror(errno)))")
        }
        return (RunnerSocket(descriptor: descriptors[0]), RunnerSocket(descriptor: descriptors[1]))
    }

    /// How a send went.
    enum SendOutcome: Equatable { case sent, full, closed, tooLarge }

    /// Sends one message. `waiting` false never blocks: a peer that has not read its backlog gets
    /// `.full`. A message over `RunnerMessage.maxSize` is not sent (`.tooLarge`).
    @discardableResult
    func send(_ message: RunnerMessage, waiting: Bool = true) -> SendOutcome {
        let bytes = message.encoded
        guard bytes.count <= RunnerMessage.maxSize else { return .tooLarge }
        while true {
            let sent = bytes.withUnsafeBytes { Foundation.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL) | (waiting ? 0 : Int32(MSG_DONTWAIT))) }
            if sent >= 0 { return .sent }
            switch errno {
            case EINTR: continue
            case EAGAIN: return .full
            default: return .closed
            }
        }
    }

    /// Reads messages on the calling thread, handing each to `handle`, until the other end closes,
    /// the socket fails, or a message is malformed (a peer that sends one is broken); returns why it stopped.
    func receive(_ handle: (RunnerMessage) throws(MalformedRunnerMessage) -> Void) -> String {
        var buffer = [UInt8](repeating: 0, count: RunnerMessage.maxSize + 1)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if count < 0 {
                if errno == EINTR { continue }
                return "the socket failed: \(String(cString: strerror(errno)))"
            }
            if count == 0 { return "the other end closed the socket" }
            guard count <= RunnerMessage.maxSize else { return "a message over \(RunnerMessage.maxSize) bytes" }
            do {
                try handle(try RunnerMessage.decode(Array(buffer[..<count])))
            } catch {
                return "a malformed message: \(error)"
            }
        }
    }

    /// Ends both directions: a thread blocked in `receive` returns, the other end sees EOF, and
    /// later sends fail. The descriptor itself stays open (so its number cannot be reused by
    /// another socket while a late task still holds this one) until the object goes.
    func shutdown() { _ = Foundation.shutdown(descriptor, Int32(SHUT_RDWR)) }

    deinit { _ = Foundation.close(descriptor) }
}

/// A failure of the runner machinery itself (not of the plugin).
struct RunnerError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
