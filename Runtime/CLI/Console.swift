#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Unbuffered writes to standard output and standard error, so that a line a script or a test waits
/// for (the node id printed by `carrier run`) arrives at once even when the output is a pipe.
enum Console {
    /// Writes `text` and a newline to standard output.
    static func line(_ text: String) {
        emit(text + "\n", to: STDOUT_FILENO)
    }

    /// Writes a progress line to standard error, so standard output stays clean for scripts.
    static func progress(_ message: String) {
        emit(message + "\n", to: STDERR_FILENO)
    }

    /// Writes `error: <message>` as one line to standard error.
    static func error(_ message: String) {
        emit("error: \(message)\n", to: STDERR_FILENO)
    }

    private static func emit(_ text: String, to descriptor: Int32) {
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            if written <= 0 { return }
            offset += written
        }
    }
}
