#if canImport(Glibc)
import Glibc
#endif

/// The one place test sockets name IPv4 addresses: `bind` or `connect` a descriptor to
/// `address`:`port`; on failure the descriptor is closed and the error says which call and why.
enum IPv4Socket {
    enum Call { case bind, connect }

    static func attach(_ descriptor: Int32, _ call: Call, address: String, port: Int = 0) throws {
        var socketAddress = sockaddr_in()
        socketAddress.sin_family = sa_family_t(AF_INET)
        socketAddress.sin_port = in_port_t(UInt16(port).bigEndian)
        socketAddress.sin_addr.s_addr = inet_addr(address)
        let result = withUnsafePointer(to: &socketAddress) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                let size = socklen_t(MemoryLayout<sockaddr_in>.size)
                return call == .bind ? bind(descriptor, pointer, size) : connect(descriptor, pointer, size)
            }
        }
        guard result == 0 else {
            let error = errno
            _ = Glibc.close(descriptor)
            throw RawTCPClient.Failure(description: "\(call) \(address):\(port): errno \(error)")
        }
    }
}
