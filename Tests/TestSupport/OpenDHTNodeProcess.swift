import Foundation
import Synchronization

/// Debian's unmodified `dhtnode` (OpenDHT 2.4) as a child process, driven through its command
/// prompt: e.g. `OpenDHTNodeProcess(proxyClientOf: "127.0.0.1:39200")`, then `send("g KEY")` and
/// `waitFor("Get: completed")`. Killed when released.
public final class OpenDHTNodeProcess: Sendable {
    /// Where Debian installs it; `make test` installs the `dhtnode` package.
    public static let path = "/usr/bin/dhtnode"
    public static var isInstalled: Bool { FileManager.default.isExecutableFile(atPath: path) }

    private let process: Process
    private let input: FileHandle
    private let output = Transcript()

    /// What the process printed, appended from the pipe's reader thread.
    private final class Transcript: Sendable {
        let text = Mutex<String>("")
    }

    /// A light OpenDHT client that reaches the DHT only through the proxy at `server` (host:port).
    public convenience init(proxyClientOf server: String) throws {
        try self.init(arguments: ["--proxyclient", server])
    }

    public init(arguments: [String]) throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: Self.path)
        process.arguments = arguments
        let stdout = Pipe(), stdin = Pipe()
        process.standardOutput = stdout
        process.standardError = stdout
        process.standardInput = stdin
        input = stdin.fileHandleForWriting
        let output = self.output
        stdout.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            if !data.isEmpty { output.text.withLock { $0 += String(decoding: data, as: UTF8.self) } }
        }
        try process.run()
    }

    deinit {
        if process.isRunning { process.terminate() }
    }

    /// Everything it printed so far.
    public var transcript: String { output.text.withLock { $0 } }

    /// Types one command line at its prompt.
    public func send(_ command: String) {
        input.write(Data((command + "\n").utf8))
    }

    /// Waits until it has printed `text` `count` times (true), or `limit` passes (false).
    public func waitFor(_ text: String, count: Int = 1, within limit: Duration = .seconds(10)) async -> Bool {
        await eventually(within: limit) { transcript.components(separatedBy: text).count - 1 >= count }
    }
}
