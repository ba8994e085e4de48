import CSodium

/// Secret bytes (a Diffie-Hellman result) that are erased when the last reference goes, however
/// the handshake holding them ends.
final class SecretBytes: @unchecked Sendable {
    // @unchecked: written once at init, then only erased (by the one handshake that owns it).
    private(set) var bytes: [UInt8]

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    deinit { erase() }

    func erase() {
        bytes.withUnsafeMutableBytes { sodium_memzero($0.baseAddress, $0.count) }
    }
}
