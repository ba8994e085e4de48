import Foundation

/// Builds the C plugins the host tests load: the hello-c example with its own Makefile, and the
/// conformance plugins of `Tests/HostTests/Conformance/`, each with `cc -shared -fPIC` against
/// PluginSDK/include alone. Outputs go to a temporary folder, built once per test process.
public enum CPlugins {
    public static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    public static let output = NSTemporaryDirectory() + "carrier-c-plugins-\(ProcessInfo.processInfo.processIdentifier)"

    /// Builds run one at a time (make and cc write into shared folders).
    private static let lock = NSLock()

    public struct BuildError: Error, CustomStringConvertible {
        public let description: String
    }

    /// The hello-c example, built by its Makefile into a private copy (so tests can tamper with it).
    public static func helloC() async throws -> String {
        try await onOwnThread { try buildHelloC() }
    }

    private static func buildHelloC() throws -> String {
        let source = repository.appendingPathComponent("Plugins/examples/hello-c").path
        let target = "\(output)/hello-c"
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
        try run("/usr/bin/make", ["-s", "-C", source, "libhello-c.so"])
        let library = "\(target)/libhello-c-\(UUID().uuidString).so"
        try FileManager.default.copyItem(atPath: "\(source)/libhello-c.so", toPath: library)
        return library
    }

    /// The Swift example, `libHelloSwiftPlugin.so`, built by `make test` beside the test binary.
    public static func helloSwift() throws -> String { try builtProduct("HelloSwiftPlugin") }

    /// The proxy plugin, `libProxyPlugin.so`, built by `make test` beside the test binary.
    public static func proxy() throws -> String { try builtProduct("ProxyPlugin") }

    /// The Shadow plugin, `libShadowPlugin.so`, built by `make test` beside the test binary.
    public static func shadow() throws -> String { try builtProduct("ShadowPlugin") }

    /// `lib<product>.so`, which `make test` builds (`swift build --product <product>`) beside the test binary.
    private static func builtProduct(_ product: String) throws -> String {
        let directory = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        let library = directory.appendingPathComponent("lib\(product).so").path
        guard FileManager.default.fileExists(atPath: library) else {
            throw BuildError(description: "\(library) is missing: build it with `swift build --product \(product)` (make test does)")
        }
        return library
    }

    /// `Conformance/NAME.c` built as a shared library.
    public static func conformance(_ name: String) async throws -> String {
        try await onOwnThread { try buildConformance(name) }
    }

    private static func buildConformance(_ name: String) throws -> String {
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        let library = "\(output)/\(name).so"
        if !FileManager.default.fileExists(atPath: library) {
            try run("/usr/bin/env", ["cc", "-std=gnu11", "-Wall", "-Werror", "-shared", "-fPIC",
                                     "-I", repository.appendingPathComponent("PluginSDK/include").path,
                                     "-o", library, repository.appendingPathComponent("Tests/HostTests/Conformance/\(name).c").path])
        }
        return library
    }

    private static func run(_ executable: String, _ arguments: [String]) throws {
        lock.lock()
        defer { lock.unlock() }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        let message = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw BuildError(description: "\(arguments.joined(separator: " ")) failed: \(String(decoding: message, as: UTF8.self))")
        }
    }
}
