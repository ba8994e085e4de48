import Foundation
import Synchronization

/// A program the tests and benchmarks run beside them (`carrier run`, `dhtnode`, `chromium`):
/// its standard input is held open (dhtnode quits at end of input) and takes command lines, and
/// what it prints on standard output and error is collected, so a caller can wait for a line.
/// `stop` (or releasing it) ends it with SIGTERM, then SIGKILL after 5 s.
public final class ChildProcess: Sendable {
    /// It did not print what was awaited.
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    private let process: Process
    private let input: FileHandle
    private let collected = Collected()

    /// What the process printed, appended from the pipe's reader thread.
    private final class Collected: Sendable {
        let text = Mutex<String>("")
    }

    private init(process: Process, input: FileHandle) {
        self.process = process
        self.input = input
    }

    deinit { stop() }

    /// Starts `path` with `arguments`, in this process's environment or, when given, in `environment` alone.
    public static func start(_ path: String, _ arguments: [String], environment: [String: String]? = nil) throws -> ChildProcess {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.environment = environment
        let output = Pipe(), input = Pipe()
        process.standardOutput = output
        process.standardError = output
        process.standardInput = input
        let child = ChildProcess(process: process, input: input.fileHandleForWriting)
        let collected = child.collected
        output.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            if !data.isEmpty { collected.text.withLock { $0 += String(decoding: data, as: UTF8.self) } }
        }
        try process.run()
        return child
    }

    /// Runs `path` to its end and returns what it printed on standard output.
    public static func output(_ path: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    /// Whether it has not yet ended (and been reaped).
    public var isRunning: Bool { process.isRunning }

    /// Everything it printed so far.
    public var transcript: String { collected.text.withLock { $0 } }

    /// Types one command line on its standard input.
    public func send(_ command: String) {
        input.write(Data((command + "\n").utf8))
    }

    /// Waits until it has printed `text` `count` times (true), or `limit` passes (false).
    public func waitFor(_ text: String, count: Int = 1, within limit: Duration = .seconds(10)) async -> Bool {
        await eventually(within: limit) { self.transcript.components(separatedBy: text).count - 1 >= count }
    }

    /// The first line it printed that satisfies `matches`, waiting up to `limit`.
    public func waitForLine(within limit: Duration = .seconds(20), _ matches: @escaping (String) -> Bool) async throws -> String {
        var found: String?
        _ = await eventually(within: limit) {
            found = self.transcript.split(separator: "\n").map(String.init).first(where: matches)
            return found != nil || !self.process.isRunning
        }
        guard let found else {
            throw Failure(description: "\(process.executableURL?.lastPathComponent ?? "child") did not print the expected line:\n\(transcript)")
        }
        return found
    }

    /// Sends it `signal` (SIGSTOP pauses it, SIGCONT resumes it, SIGKILL ends it at once). It
    /// returns once the signal has taken effect: a SIGSTOP that is still on its way lets the
    /// child answer one more datagram, which a test of silence would then count.
    public func send(signal: Int32) {
        guard process.isRunning else { return }
        kill(process.processIdentifier, signal)
        if signal == SIGKILL { process.waitUntilExit() }
        if signal == SIGSTOP {
            for _ in 0..<200 where !isStopped { usleep(10_000) }
        }
    }

    /// Whether every thread of it is stopped (Linux: state `T` in /proc/PID/task/TID/stat).
    private var isStopped: Bool {
        let tasks = "/proc/\(process.processIdentifier)/task"
        guard let threads = try? FileManager.default.contentsOfDirectory(atPath: tasks), !threads.isEmpty else { return true }
        return threads.allSatisfy { thread in
            guard let stat = try? String(contentsOfFile: "\(tasks)/\(thread)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { return true }
            let state = stat[stat.index(after: close)...].drop { $0 == " " }.first
            return state == "T" || state == "t"
        }
    }

    public func stop() {
        guard process.isRunning else { return }
        process.terminate()
        kill(process.processIdentifier, SIGCONT)  // a paused process acts on SIGTERM once resumed
        for _ in 0..<50 where process.isRunning { usleep(100_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }
}

/// Debian's unmodified `dhtnode` (OpenDHT 2.4), driven through its command prompt.
public enum OpenDHTNode {
    /// Where Debian installs it; `make test` installs the `dhtnode` package.
    public static let path = "/usr/bin/dhtnode"
    public static var isInstalled: Bool { FileManager.default.isExecutableFile(atPath: path) }

    /// A light OpenDHT client that reaches the DHT only through the proxy at `server`
    /// (HOST:PORT): `send("g KEY")`, then `waitFor("Get: completed")`.
    public static func proxyClient(of server: String) throws -> ChildProcess {
        try ChildProcess.start(path, ["--proxyclient", server])
    }
}
