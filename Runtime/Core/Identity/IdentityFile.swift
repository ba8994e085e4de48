#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A node's key pair in its data directory: `identity.key`, the 64-byte secret key (seed ‖ public
/// key), mode 0600, created on first use. A file readable by group or others, of the wrong size,
/// not a regular file (a symbolic link included), or whose public half does not match its seed is
/// refused, never repaired or replaced.
public enum IdentityFile {
    /// The key file's name inside the data directory.
    public static let fileName = "identity.key"

    /// Loads the key pair in `dataDirectory`, creating the directory (0700) and a new key (0600) when
    /// there is none yet. `created` tells which happened.
    public static func loadOrCreate(dataDirectory: String) throws(IdentityFileError) -> (keyPair: KeyPair, created: Bool) {
        try DataDirectory.create(dataDirectory)
        let path = dataDirectory + "/" + fileName
        var status = stat()
        if lstat(path, &status) == 0 { return (try load(path: path), false) }
        let keyPair = KeyPair.random()
        try store(keyPair, at: path)
        return (keyPair, true)
    }

    /// Loads a key file, checking its type, permissions, size and consistency on the open file.
    public static func load(path: String) throws(IdentityFileError) -> KeyPair {
        let descriptor = open(path, O_RDONLY | O_NOFOLLOW)
        guard descriptor >= 0 else {
            let reason = errno == ELOOP ? "it is a symbolic link; the key must be a regular file" : systemError()
            throw .unreadable(path: path, reason: reason)
        }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw .unreadable(path: path, reason: systemError()) }
        guard status.st_mode & S_IFMT == S_IFREG else { throw .unreadable(path: path, reason: "not a regular file") }
        let permissions = status.st_mode & 0o777
        guard permissions & 0o077 == 0 else { throw .insecurePermissions(path: path, mode: permissions) }
        guard status.st_size == KeyPair.secretKeyByteCount else {
            throw .corrupt(path: path, reason: "file is \(status.st_size) bytes, expected \(KeyPair.secretKeyByteCount)")
        }
        var bytes = [UInt8](repeating: 0, count: KeyPair.secretKeyByteCount)
        guard read(descriptor, &bytes, bytes.count) == bytes.count else { throw .unreadable(path: path, reason: "short read") }
        do {
            return try KeyPair(secretKey: bytes)
        } catch {
            throw .corrupt(path: path, reason: error.description)
        }
    }

    /// Writes a new key file with mode 0600 and fsyncs it; refuses to overwrite anything at `path`.
    public static func store(_ keyPair: KeyPair, at path: String) throws(IdentityFileError) {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600)
        guard descriptor >= 0 else { throw .unwritable(path: path, reason: systemError()) }
        defer { close(descriptor) }
        let written = keyPair.secretKey.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        let failure: String? = if written < 0 { systemError() }
            else if written != KeyPair.secretKeyByteCount { "short write (\(written) of \(KeyPair.secretKeyByteCount) bytes)" }
            else if fsync(descriptor) != 0 { systemError() }
            else { nil }
        if let failure {
            unlink(path)
            throw .unwritable(path: path, reason: failure)
        }
    }

    private static func systemError() -> String { String(cString: strerror(errno)) }
}
