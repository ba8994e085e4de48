import CarrierPluginABI

/// The host call ABI 1.6 appends: `count_tcp_socket`.
extension HostAPI {
    static func installCountTCPSocket(_ api: inout carrier_host_api_v1) {
        api.count_tcp_socket = { host, client, meter, socket in
            guard let context = PluginContext.from(host), let client, let meter, let socket, let named = HostAPI.kernelSocket(socket.pointee) else {
                return CARRIER_ERR_INVALID_ARGUMENT
            }
            let name = String(cString: meter)
            guard context.isMeterDefined(name) else { return CARRIER_ERR_INVALID_ARGUMENT }
            // Counted only if the kernel answers 2 s before a runner's round trip would give up.
            let before = SocketMeter.monotonicNanoseconds() + UInt64(CARRIER_ROUND_TRIP_LIMIT_MS - 2_000) * 1_000_000
            let request = HostRequest.countSocket(client: CRecords.id(client), meter: name, socket: named, before: before)
            guard case .counted(let status) = context.services.serve(request).immediate else { return CARRIER_ERR_TIMEOUT }
            return status
        }
    }

    /// The socket a `carrier_tcp_socket` names; nil for a family other than 4 or 6 or nonzero reserved bytes.
    private static func kernelSocket(_ socket: carrier_tcp_socket) -> KernelSocket? {
        guard let family = KernelSocket.Family(rawValue: socket.family), socket.reserved == (0, 0, 0) else { return nil }
        func address(_ bytes: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8)) -> [UInt8] {
            withUnsafeBytes(of: bytes) { Array($0.prefix(family.addressLength)) }
        }
        return KernelSocket(cookie: socket.cookie, family: family,
                            local: .init(address: address(socket.local_address), port: socket.local_port),
                            remote: .init(address: address(socket.remote_address), port: socket.remote_port))
    }
}
