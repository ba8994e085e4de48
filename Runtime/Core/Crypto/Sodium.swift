import CSodium
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One-time libsodium initialisation and the few primitives every other file builds on.
///
/// libsodium must be initialised once per process before use; `Sodium.ready` does that lazily and
/// thread-safely (Swift global initialisers run exactly once).
public enum Sodium {
    /// Initialises libsodium on first access. Evaluate it before any libsodium call.
    public static let ready: Void = {
        precondition(sodium_init() >= 0, "libsodium could not be initialised (sodium_init failed)")
    }()

    /// `count` bytes from the operating system's CSPRNG.
    public static func randomBytes(_ count: Int) -> [UInt8] {
        _ = ready
        var bytes = [UInt8](repeating: 0, count: count)
        bytes.withUnsafeMutableBytes { randombytes_buf($0.baseAddress!, count) }
        return bytes
    }

    /// A uniformly random 64-bit integer.
    public static func randomUInt64() -> UInt64 {
        let bytes = randomBytes(8)
        return bytes.reduce(0) { ($0 << 8) | UInt64($1) }
    }

    /// SHA-256 of the concatenation of `parts`.
    public static func sha256(_ parts: [UInt8]...) -> [UInt8] {
        sha256(parts: parts)
    }

    /// SHA-256 of the concatenation of `parts`.
    public static func sha256(parts: [[UInt8]]) -> [UInt8] {
        _ = ready
        var state = crypto_hash_sha256_state()
        crypto_hash_sha256_init(&state)
        for part in parts {
            _ = part.withUnsafeBufferPointer { crypto_hash_sha256_update(&state, $0.baseAddress, UInt64($0.count)) }
        }
        var digest = [UInt8](repeating: 0, count: Int(crypto_hash_sha256_BYTES))
        crypto_hash_sha256_final(&state, &digest)
        return digest
    }

    /// SHA-256 of the file at `path`, read in 64 KiB chunks; nil if it cannot be read.
    public static func sha256(ofFile path: String) -> [UInt8]? {
        _ = ready
        guard let file = fopen(path, "rb") else { return nil }
        defer { fclose(file) }
        var state = crypto_hash_sha256_state()
        crypto_hash_sha256_init(&state)
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = fread(&chunk, 1, chunk.count, file)
            if count > 0 { crypto_hash_sha256_update(&state, chunk, UInt64(count)) }
            if count < chunk.count { break }
        }
        guard ferror(file) == 0 else { return nil }
        var digest = [UInt8](repeating: 0, count: Int(crypto_hash_sha256_BYTES))
        crypto_hash_sha256_final(&state, &digest)
        return digest
    }
}
