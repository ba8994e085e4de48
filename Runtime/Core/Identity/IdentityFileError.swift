#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a node's identity could not be loaded or created; each message names the path and, where
/// there is one, the fix.
public enum IdentityFileError: Error, Equatable, CustomStringConvertible {
    /// The key file is readable by group or others.
    case insecurePermissions(path: String, mode: mode_t)
    /// The key file is the wrong size or its halves do not match.
    case corrupt(path: String, reason: String)
    /// The key file cannot be opened or read.
    case unreadable(path: String, reason: String)
    /// A new key file cannot be written.
    case unwritable(path: String, reason: String)
    /// The data directory cannot be created or is not a directory.
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
