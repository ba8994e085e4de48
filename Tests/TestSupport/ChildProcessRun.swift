import Foundation
import Synchronization

extension ChildProcess {
    /// How a program run to its end finished: its exit status (the signal's number when a signal
    /// ended it) and what it printed on standard output and standard error.
    public struct Outcome: Sendable {
        public let status: Int32
        public let stdout: String
        public let stderr: String
    }

    /// Runs `path` to its end with `input` on its standard input and returns how it finished.
    /// The program is started, fed and read on threads of its own, so awaiting it never holds a
    /// thread of Swift's cooperative pool (two threads wide on a small machine).
    public static func run(_ path: String, _ arguments: [String], input: String = "") async throws -> Outcome {
        try await withCheckedThrowingContinuation { continuation in
            Thread {
                continuation.resume(with: Result { try runToEnd(path, arguments, input: input) })
            }.start()
        }
    }

    /// Blocks the calling thread (one of `run`'s own) until `path` has ended.
    private static func runToEnd(_ path: String, _ arguments: [String], input: String) throws -> Outcome {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let output = Pipe(), errors = Pipe(), feed = Pipe()
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = feed
        try process.run()
        // Feeding and both readings go on at once, so a program that prints before it has read
        // all its input (`ip -batch`) never waits on a full pipe.
        let stderr = BackgroundRead(errors.fileHandleForReading)
        Thread {
            feed.fileHandleForWriting.write(Data(input.utf8))
            try? feed.fileHandleForWriting.close()
        }.start()
        let stdout = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Outcome(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                       stderr: String(decoding: stderr.wait(), as: UTF8.self))
    }
}

/// Reads a file handle to its end on a thread of its own.
private final class BackgroundRead: Sendable {
    private let data = Mutex(Data())
    private let done = DispatchSemaphore(value: 0)

    init(_ handle: FileHandle) {
        Thread { [self] in
            let read = handle.readDataToEndOfFile()
            data.withLock { $0 = read }
            done.signal()
        }.start()
    }

    /// Everything read, once the writer has closed its end.
    func wait() -> Data {
        done.wait()
        return data.withLock { $0 }
    }
}
