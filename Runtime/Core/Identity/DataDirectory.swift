#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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
