import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A plain POSIX TCP client to 127.0.0.1, for tests that must misbehave as an attacker would:
/// send bytes a byte at a time, pipeline without reading, leave answers unread (a small receive
/// buffer), or see exactly what a server writes before it closes. Blocking calls run off Swift's
/// concurrency pool (`onOwnThread`), so a test waiting on a socket never starves the server it tests.
public final class RawTCPClient: @unchecked Sendable {
    // @unchecked: the descriptor is used by one caller at a time.
    public let descriptor: Int32

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Connects to 127.0.0.1:`port` from `source` (another loopback address, to act as many
    /// clients); `receiveBuffer` (bytes) small makes a client that reads nothing fill up fast.
    public init(port: Int, source: String? = nil, receiveBuffer: Int32? = nil) throws {
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw Failure(description: "socket: \(errno)") }
        if var size = receiveBuffer {
            setsockopt(descriptor, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        if let source { try IPv4Socket.attach(descriptor, .bind, address: source) }
        try IPv4Socket.attach(descriptor, .connect, address: "127.0.0.1", port: port)
    }

    deinit { _ = Glibc.close(descriptor) }

    /// Sends all of `bytes` (blocking); throws once the server closed or reset the connection.
    public func send(_ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            let count = bytes[sent...].withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard count > 0 else { throw Failure(description: "send: \(errno) after \(sent) bytes") }
            sent += count
        }
    }

    public func send(_ text: String) throws { try send(Array(text.utf8)) }

    /// Sends as much of `bytes` as the socket takes now without blocking; the count taken (0 when
    /// full), or nil once the connection is closed or reset.
    public func offer(_ bytes: [UInt8]) -> Int? {
        let count = bytes.withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
        if count >= 0 { return count }
        return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : nil
    }

    /// Reads until the server ends the connection or nothing arrives for `timeout` seconds: the
    /// bytes, and whether the connection ended (closed or reset).
    public func drain(timeout: Double) async throws -> (bytes: [UInt8], ended: Bool) {
        try await onOwnThread { self.drainBlocking(timeout: timeout) }
    }

    /// `drain`'s bytes as text.
    public func drainText(timeout: Double) async throws -> (text: String, ended: Bool) {
        let (bytes, ended) = try await drain(timeout: timeout)
        return (String(decoding: bytes, as: UTF8.self), ended)
    }

    /// Reads until `enough` holds for what arrived, the connection ends, or `timeout` seconds
    /// pass with nothing new.
    public func read(timeout: Double, until enough: @escaping @Sendable ([UInt8]) -> Bool) async throws -> (bytes: [UInt8], ended: Bool) {
        try await onOwnThread { self.drainBlocking(timeout: timeout, until: enough) }
    }

    public func close() { shutdown(descriptor, Int32(SHUT_RDWR)) }

    /// Half-closes: sends the end of its stream and keeps reading.
    public func endSending() { shutdown(descriptor, Int32(SHUT_WR)) }

    /// Resets the connection: with SO_LINGER 0 the socket's close sends RST, as from a client
    /// that vanished, rather than an orderly end. (The descriptor is replaced by /dev/null, which
    /// closes the socket and leaves `descriptor` valid for `deinit`.)
    public func reset() {
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        let null = open("/dev/null", O_RDONLY)
        dup2(null, descriptor)
        _ = Glibc.close(null)
    }

    private func drainBlocking(timeout: Double, until enough: ([UInt8]) -> Bool = { _ in false }) -> (bytes: [UInt8], ended: Bool) {
        var limit = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - timeout.rounded(.down)) * 1e6))
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = recv(descriptor, &buffer, buffer.count, 0)
            if count > 0 {
                received += buffer.prefix(count)
                if enough(received) { return (received, false) }
            } else {
                // 0: the server closed; an error: a reset (also an end) or the timeout (not one).
                return (received, count == 0 || errno == ECONNRESET || errno == EPIPE)
            }
        }
    }
}
