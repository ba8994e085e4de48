import CarrierCore

/// The key a client address is limited by: the address itself for IPv4, its /64 for IPv6 (one
/// host's share of addresses, which it can rotate through at will).
public enum SourceKey {
    public static func of(_ remote: String) -> String {
        guard remote.contains(":"), let address = IPAddress(remote), address.bytes.count == 16 else { return remote }
        return Hex.encode(address.bytes.prefix(8)) + "/64"
    }
}
