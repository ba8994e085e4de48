import Foundation

/// Runs the built `carrier` executable (found beside the test binary, or at `$CARRIER_BIN`) as a
/// real child process.
public enum CarrierBinary {
    public struct Result: Sendable {
        public let status: Int32
        public let standardOutput: String
        public let standardError: String
    }

    /// The release build of `carrier` beside the debug one (`make test` builds it), for tests
    /// that measure speed: a debug SwiftNIO reads a UDP flood several times slower than it arrives.
    /// Nil when there is none.
    public static var releasePath: String? {
        if let override = ProcessInfo.processInfo.environment["CARRIER_RELEASE_BIN"] { return override }
        let debug = URL(fileURLWithPath: path).resolvingSymlinksInPath().deletingLastPathComponent()
        guard debug.lastPathComponent == "debug" else { return nil }
        let release = debug.deletingLastPathComponent().appendingPathComponent("release/carrier").path
        return FileManager.default.isExecutableFile(atPath: release) ? release : nil
    }

    public static var path: String {
        if let override = ProcessInfo.processInfo.environment["CARRIER_BIN"] { return override }
        let testBinary = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var directory = testBinary.deletingLastPathComponent()
        // On Linux the test binary is <build>/debug/CarrierPackageTests.xctest; on macOS it is a bundle.
        while !FileManager.default.isExecutableFile(atPath: directory.appendingPathComponent("carrier").path), directory.path != "/" {
            directory = directory.deletingLastPathComponent()
        }
        return directory.appendingPathComponent("carrier").path
    }

    /// Runs `carrier` with `arguments` (in `directory`, else this process's folder) to its end.
    public static func run(_ arguments: [String], standardInput: String? = nil, in directory: String? = nil) async throws -> Result {
        try await runs.run { try await onOwnThread { try runBlocking(arguments, standardInput: standardInput, in: directory) } }
    }

    /// Two `carrier` runs at a time (see `ConcurrencyLimit`).
    private static let runs = ConcurrencyLimit(width: 2)

    private static func runBlocking(_ arguments: [String], standardInput: String?, in directory: String?) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        let output = Pipe(), error = Pipe(), input = Pipe()
        process.standardOutput = output
        process.standardError = error
        process.standardInput = input
        try process.run()
        if let standardInput { input.fileHandleForWriting.write(Data(standardInput.utf8)) }
        try input.fileHandleForWriting.close()
        let outputData = output.fileHandleForReading.readDataToEndOfFile()
        let errorData = error.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus,
                      standardOutput: String(decoding: outputData, as: UTF8.self),
                      standardError: String(decoding: errorData, as: UTF8.self))
    }
}
