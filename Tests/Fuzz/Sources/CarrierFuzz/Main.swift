/// The fuzzer's entry points and its targets, one per parser of outside input (each in its own
/// `Fuzz*.swift`). The target is the first argument (`CarrierFuzz http corpus/http ...`, taken off
/// before libFuzzer sees the arguments) or `FUZZ_TARGET`; run.sh passes it.
///
/// No top-level code and no `@main`; build with `-sanitize=fuzzer,address -parse-as-library` (run.sh).
/// SwiftPM links an executable with `--defsym main=CarrierFuzz_main` (so tests can link executables),
/// which hides libFuzzer's `main`; `CarrierFuzz_main` below does what that `main` does. Were SwiftPM
/// to stop renaming, libFuzzer's `main` would run instead and the target would come from
/// `FUZZ_TARGET` alone.
import CLibFuzzer
#if canImport(Glibc)
import Glibc
#endif

/// Every target, by the name run.sh knows it by.
let fuzzTargets: [String: @Sendable ([UInt8]) -> Void] = [
    "datagram": fuzzDatagram,
    "http": fuzzHTTP,
    "websocket": fuzzWebSocket,
    "json": fuzzJSON,
    "opendht": fuzzOpenDHT,
    "runner": fuzzRunner,
    "shadow": fuzzShadow,
]

/// The target this process runs (set once, before the first input).
nonisolated(unsafe) var selectedTarget: (@Sendable ([UInt8]) -> Void)?

private func target(named name: String) -> @Sendable ([UInt8]) -> Void {
    guard let target = fuzzTargets[name] else {
        complain("unknown target \"\(name)\"; one of \(fuzzTargets.keys.sorted().joined(separator: ", "))")
        exit(2)
    }
    return target
}

/// Writes `message` to standard error.
private func complain(_ message: String) {
    var text = "CarrierFuzz: \(message)\n"
    text.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
}

/// The target `FUZZ_TARGET` names; exits if none.
private func targetFromEnvironment() -> @Sendable ([UInt8]) -> Void {
    guard let name = getenv("FUZZ_TARGET").map({ String(cString: $0) }) else {
        complain("name a target (first argument or FUZZ_TARGET): \(fuzzTargets.keys.sorted().joined(separator: ", "))")
        exit(2)
    }
    return target(named: name)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    if selectedTarget == nil { selectedTarget = targetFromEnvironment() }
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    selectedTarget!(bytes)
    return 0
}

/// The process entry point under SwiftPM's renaming: takes the target's name off the arguments,
/// then runs libFuzzer's driver.
@_cdecl("CarrierFuzz_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    if argc > 1, let argument = argv?[1].map({ String(cString: $0) }), fuzzTargets[argument] != nil {
        selectedTarget = fuzzTargets[argument]
        // Shift the name out: argv[1...] move down one, the terminating NULL included.
        for index in 1..<Int(argc) { argv![index] = argv![index + 1] }
        argc -= 1
    }
    if selectedTarget == nil { selectedTarget = targetFromEnvironment() }
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzTestOneInput(data, size) }
}

/// `FUZZ_VERBOSE=1`: the HTTP targets print what the server sent (for replaying an input).
let verbose = getenv("FUZZ_VERBOSE") != nil

/// Prints `bytes` as escaped text, when `verbose`.
func show(_ label: String, _ bytes: [UInt8]) {
    trace("\(label) (\(bytes.count) bytes): \(String(decoding: bytes, as: UTF8.self).debugDescription)")
}

/// Writes `text` to standard error (unbuffered: it survives a crash), when `verbose`.
func trace(_ text: @autoclosure () -> String) {
    guard verbose else { return }
    var line = text() + "\n"
    line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
}

/// Fails the run: libFuzzer reports it as a crash and saves the input, like a trap in the code
/// under test.
func invariant(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String) {
    if !condition() { fatalError(message()) }
}
