import Foundation

/// Units the benchmarks share.
enum Measurement {
    /// `duration` in milliseconds.
    static func milliseconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
    }

    /// This process's resident memory once the allocator has handed its free pages back (glibc's
    /// `malloc_trim`), so memory freed by an earlier run is not reused unseen by the next.
    static func residentAfterTrim() -> Int {
        #if os(Linux)
        _ = malloc_trim(0)
        #endif
        return residentKiB() ?? 0
    }

    /// The resident set (VmRSS) of process `pid` ("self" for this one), in KiB; nil if unreadable.
    static func residentKiB(of pid: String = "self") -> Int? {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return Int(line.split(separator: " ").dropFirst().first ?? "")
    }
}

#if os(Linux)
/// glibc's `malloc_trim` (declared in `<malloc.h>`, which the Glibc module does not bring in).
@_silgen_name("malloc_trim") private func malloc_trim(_ pad: Int) -> Int32
#endif
