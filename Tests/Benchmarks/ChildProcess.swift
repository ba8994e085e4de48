import Foundation
import Synchronization

/// A server the benchmark starts as a child process (`carrier run`, `dhtnode`): its standard
/// input is held open (dhtnode quits at end of input) and its output is collected, so the
/// benchmark can wait for a line; `stop` ends it with SIGTERM, then SIGKILL after 5 s.
final class ChildProcess: Sendable {
    private let process: Process
    private let input: Pipe
    private let collected = Collected()

    private final class Collected: Sendable {
        let text = Mutex<String>("")
    }

    private init(process: Process, input: Pipe) {
        self.process = process
        self.input = input
    }

    static func start(_ path: String, _ arguments: [String]) throws -> ChildProcess {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let output = Pipe(), input = Pipe()
        process.standardOutput = output
        process.standardError = output
        process.standardInput = input
        let child = ChildProcess(process: process, input: input)
        let collected = child.collected
        output.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            if !data.isEmpty { collected.text.withLock { $0 += String(decoding: data, as: UTF8.self) } }
        }
        try process.run()
        return child
    }

    /// Runs `path` to its end and returns what it printed on standard output.
    static func output(_ path: String, _ arguments: [String]) throws -> String {
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

    /// The first line it printed that satisfies `matches`, waiting up to 20 s.
    func waitForLine(_ matches: (String) -> Bool) async throws -> String {
        for _ in 0..<200 {
            let lines = collected.text.withLock { $0 }.split(separator: "\n").map(String.init)
            if let line = lines.first(where: matches) { return line }
            guard process.isRunning else { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw BenchmarkError("\(process.executableURL?.lastPathComponent ?? "child") did not print the expected line:\n"
                             + collected.text.withLock { $0 })
    }

    func stop() {
        guard process.isRunning else { return }
        process.terminate()
        for _ in 0..<50 where process.isRunning { usleep(100_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }
}
