#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A node's key pair in its data directory: `identity.key`, the 64-byte secret key (seed ‖ public
/// key), mode 0600, created on first use. A file readable by group or others, of the wrong size, or
/// whose public half does not match its seed is refused, never repaired or replaced.
public enum IdentityFile {
    /// The key file's name inside the data directory.
    public static let fileName = "identity.key"

    /// Loads the key pair in `dataDirectory`, creating the directory (0700) and a new key (0600) when
    /// there is none yet. `created` tells which happened.
    public static func loadOrCreate(dataDirectory: String) throws(IdentityFileError) -> (keyPair: KeyPair, created: Bool) {
        try DataDirectory.create(dataDirectory)
        let path = dataDirectory + "/" + fileName
        if access(path, F_OK) == 0 { return (try load(path: path), false) }
        let keyPair = KeyPair.random()
        try write(keyPair, to: path)
        return (keyPair, true)
    }

    /// Loads a key file, checking its permissions, size and consistency.
    public static func load(path: String) throws(IdentityFileError) -> KeyPair {
        var status = stat()
        guard stat(path, &status) == 0 else { throw .unreadable(path: path, reason: String(cString: strerror(errno))) }
        guard status.st_mode & S_IFMT == S_IFREG else { throw .unreadable(path: path, reason: "not a regular file") }
        let permissions = status.st_mode & 0o777
        guard permissions & 0o077 == 0 else { throw .insecurePermissions(path: path, mode: permissions) }
        guard status.st_size == KeyPair.secretKeyByteCount else {
            throw .corrupt(path: path, reason: "file is \(status.st_size) bytes, expected \(KeyPair.secretKeyByteCount)")
        }
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { throw .unreadable(path: path, reason: String(cString: strerror(errno))) }
        defer { close(descriptor) }
        var bytes = [UInt8](repeating: 0, count: KeyPair.secretKeyByteCount)
        let count = read(descriptor, &bytes, bytes.count)
        guard count == bytes.count else { throw .unreadable(path: path, reason: "short read") }
        do {
            return try KeyPair(secretKey: bytes)
        } catch {
            throw .corrupt(path: path, reason: error.description)
        }
    }

    /// Writes a new key file with mode 0600 and fsyncs it; refuses to overwrite an existing file.
    public static func write(_ keyPair: KeyPair, to path: String) throws(IdentityFileError) {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard descriptor >= 0 else { throw .unwritable(path: path, reason: String(cString: strerror(errno))) }
        defer { close(descriptor) }
        let written = keyPair.secretKey.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
        guard written == KeyPair.secretKeyByteCount, fsync(descriptor) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(path)
            throw .unwritable(path: path, reason: reason)
        }
    }
}

/// Why a node's identity could not be loaded or created.
public enum IdentityFileError: Error, Equatable, CustomStringConvertible {
    case insecurePermissions(path: String, mode: mode_t)
    case corrupt(path: String, reason: String)
    case unreadable(path: String, reason: String)
    case unwritable(path: String, reason: String)
    case dataDirectory(path: String, reason: String)

    public var description: String {
        switch self {
        case .insecurePermissions(let path, let mode):
            "\(path) has mode \(String(mode, radix: 8)); a secret key file must not be readable by group or others (run: chmod 600 \(path))"
        case .corrupt(let path, let reason): "\(path) is not a valid identity key: \(reason)"
        case .unreadable(let path, let reason): "cannot read \(path): \(reason)"
        case .unwritable(let path, let reason): "cannot write \(path): \(reason)"
        case .dataDirectory(let path, let reason): "cannot use data directory \(path): \(reason)"
        }
    }
}

/// A node's data directory: created with mode 0700 (and its parents) when missing.
public enum DataDirectory {
    /// Creates `path` and any missing parents; succeeds if it already is a directory.
    public static func create(_ path: String) throws(IdentityFileError) {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for component in path.split(separator: "/") {
            prefix += component
            if mkdir(prefix, 0o700) != 0 && errno != EEXIST {
                throw .dataDirectory(path: path, reason: String(cString: strerror(errno)))
            }
            prefix += "/"
        }
        var status = stat()
        guard stat(path, &status) == 0, status.st_mode & S_IFMT == S_IFDIR else {
            throw .dataDirectory(path: path, reason: "not a directory")
        }
    }
}
