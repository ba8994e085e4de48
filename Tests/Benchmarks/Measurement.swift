import Foundation

/// Units the benchmarks share.
enum Measurement {
    /// `duration` in milliseconds.
    static func milliseconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
    }

    /// The resident set (VmRSS) of process `pid` ("self" for this one), in KiB; nil if unreadable.
    static func residentKiB(of pid: String = "self") -> Int? {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return Int(line.split(separator: " ").dropFirst().first ?? "")
    }
}
