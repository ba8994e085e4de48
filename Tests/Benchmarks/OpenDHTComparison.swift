import Foundation

/// Runs `opendht_loopback.py` (beside this file) with Debian's python3 and `python3-opendht`: as
/// many OpenDHT nodes on 127.0.0.1 as the Carrier run, the same rounds, one JSON line back.
enum OpenDHTComparison {
    /// The script's figures, in the same units as `LoopbackNetworkBenchmark.Figures`.
    struct Figures: Decodable {
        let version: String?
        let nodes: Int
        let k: Int
        let putP50: Double, putP99: Double, getP50: Double, getP99: Double
        let getSuccess: Double
        let trueClosest: Double?
        let memoryPerNodeKiB: Double?
        let notes: String?

        enum CodingKeys: String, CodingKey {
            case version, nodes, k, notes
            case putP50 = "put_p50_ms", putP99 = "put_p99_ms", getP50 = "get_p50_ms", getP99 = "get_p99_ms"
            case getSuccess = "get_success", trueClosest = "true_closest", memoryPerNodeKiB = "memory_per_node_kib"
        }
    }

    static let python = "/usr/bin/python3"
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("opendht_loopback.py").path

    /// Runs the script for `nodes` nodes; throws with its standard error when it fails.
    static func run(nodes: Int, operations: Int, settleSeconds: Int) throws -> Figures {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [script, "--nodes", "\(nodes)", "--operations", "\(operations)", "--settle", "\(settleSeconds)"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.standardError
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw ComparisonError("\(script) exited with status \(process.terminationStatus)")
        }
        guard let line = String(decoding: data, as: UTF8.self).split(separator: "\n").last else {
            throw ComparisonError("\(script) printed nothing")
        }
        return try JSONDecoder().decode(Figures.self, from: Data(line.utf8))
    }

    struct ComparisonError: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }
}
