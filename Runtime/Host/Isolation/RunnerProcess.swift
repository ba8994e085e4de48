import Foundation
import Synchronization

/// A `carrier plugin-runner` child process and the host's end of its socket. The child gets the
/// other end as fd 3 and inherits stderr (its own log lines); nothing else of the host's.
final class RunnerProcess: Sendable {
    let pid: pid_t
    let socket: RunnerSocket
    /// Set (under the lock) once the child is reaped: its pid may then belong to another process.
    private let reaped = Mutex(false)

    private init(pid: pid_t, socket: RunnerSocket) {
        self.pid = pid
        self.socket = socket
    }

    /// Starts `executable plugin-runner --fd 3`. Without `crashBacktraces`, Swift's crash
    /// backtracer is off in the child (`SWIFT_BACKTRACE=enable=no`).
    static func spawn(executable: String, crashBacktraces: Bool) throws -> RunnerProcess {
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            throw RunnerError("the plugin runner \(executable) is not an executable file")
        }
        let (host, child) = try RunnerSocket.pair()
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        // dup2 onto 3 clears close-on-exec on the copy; every other descriptor above it is closed
        // in the child, whether or not the host marked it close-on-exec (a pipe some other code
        // opened, say, whose reader would otherwise wait for EOF as long as the runner lives).
        posix_spawn_file_actions_adddup2(&actions, child.descriptor, 3)
        if let closeFrom = Self.addCloseFrom { _ = closeFrom(&actions, 4) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, 2, 1)
        let arguments = [executable, "plugin-runner", "--fd", "3"]
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var environment = ProcessInfo.processInfo.environment
        if !crashBacktraces { environment["SWIFT_BACKTRACE"] = "enable=no" }
        var envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for pointer in envp { free(pointer) } }
        // Its own process group: a Ctrl-C (or `timeout`) meant for the host's group does not kill the
        // runner under the plugin; the host stops the plugin, then lets its runner exit.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP))
        posix_spawnattr_setpgroup(&attributes, 0)
        var pid: pid_t = 0
        // The child's end stays open until the spawn has duplicated it.
        let result = withExtendedLifetime(child) { posix_spawn(&pid, executable, &actions, &attributes, &argv, &envp) }
        guard result == 0 else {
            throw RunnerError("cannot start \(executable): \(String(cString: strerror(result)))")
        }
        return RunnerProcess(pid: pid, socket: host)
    }

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34 and later, so Debian 12 has it; not
    /// in Swift's Glibc module). On an older glibc the runner inherits what the host left open.
    private static let addCloseFrom: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32)? = {
        guard let symbol = dlsym(dlopen(nil, RTLD_NOW), "posix_spawn_file_actions_addclosefrom_np") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self)
    }()

    /// SIGKILL: for a runner that is stuck, broken, or already gone (then it does nothing; once
    /// reaped, its pid is never signalled again).
    func kill() {
        reaped.withLock { reaped in if !reaped { _ = Foundation.kill(pid, SIGKILL) } }
    }

    /// Waits for the child to end (after its socket closed), reaps it, and says how it ended.
    func waitForExit() -> String {
        // Wait without reaping, so `kill` cannot hit a reused pid; then reap under the lock.
        var info = siginfo_t()
        while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) < 0 {
            guard errno == EINTR else { return "cannot be waited for: \(String(cString: strerror(errno)))" }
        }
        var status: Int32 = 0
        let result = reaped.withLock { reaped in
            defer { reaped = true }
            return waitpid(pid, &status, 0)
        }
        guard result == pid else { return "cannot be reaped: \(String(cString: strerror(errno)))" }
        if status & 0x7F == 0 { return "exited with status \((status >> 8) & 0xFF)" }
        let signal = status & 0x7F
        let name = strsignal(signal).map { String(cString: $0) } ?? "signal \(signal)"
        return "was killed by signal \(signal) (\(name))"
    }
}
