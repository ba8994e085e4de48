import CarrierCore
import Foundation
import Synchronization

/// One life of a plugin runner, seen from the host: the child process, the thread reading its
/// socket, the requests the host has sent it, and the host-API calls it makes (`RunnerCalls`, once
/// the library is loaded). The session ends when the socket closes: the reader then kills and
/// reaps the child, fails the requests still waiting, and fulfils `ended` with how it ended.
final class RunnerSession: Sendable {
    let process: RunnerProcess
    /// How the session ended: why the socket closed and how the child exited.
    let ended = OneShot<String>()

    private struct State {
        var nextId: UInt64 = 1
        var waiting: [UInt64: OneShot<RunnerMessage?>] = [:]
        var calls: RunnerCalls?
        var finished = false
        /// Why the host killed the runner, when it did.
        var killedBecause: String?
    }

    private let state = Mutex(State())

    private init(process: RunnerProcess) {
        self.process = process
    }

    /// Starts `executable plugin-runner` and the thread reading its socket.
    static func start(settings: RunnerSettings, pluginId: String) throws -> RunnerSession {
        let session = RunnerSession(process: try RunnerProcess.spawn(executable: settings.executable, crashBacktraces: settings.crashBacktraces))
        let thread = Thread { session.read() }
        thread.name = "carrier.runner.\(pluginId)"
        thread.start()
        return session
    }

    /// Serves the runner's host-API calls from now on (after it loaded the library).
    func attach(_ calls: RunnerCalls) { state.withLock { $0.calls = calls } }

    /// The calls being served, once attached.
    var calls: RunnerCalls? { state.withLock { $0.calls } }

    var isFinished: Bool { state.withLock { $0.finished } }

    /// Why a request got no answer.
    enum Failure: Error, CustomStringConvertible {
        /// The runner answered with an error (the library, the manifest or the plugin refused).
        case refused(String)
        /// No answer within the limit: the runner was killed.
        case timedOut(op: String, limit: Duration)
        /// The runner went away first.
        case lost(String)

        var description: String {
            switch self {
            case .refused(let message): message
            case .timedOut(let op, let limit): "\(op) did not return within \(limit); its runner was killed"
            case .lost(let reason): "its runner went away: \(reason)"
            }
        }
    }

    /// Sends a lifecycle request and waits at most `limit` for the answer; past it, kills the runner.
    func request(_ op: String, _ fields: [String: CBOR] = [:], limit: Duration) async throws(Failure) -> RunnerMessage {
        let answer = OneShot<RunnerMessage?>()
        let id: UInt64? = state.withLock { state in
            guard !state.finished else { return nil }
            let id = state.nextId
            state.nextId += 1
            state.waiting[id] = answer
            return id
        }
        guard let id else { throw .lost(await endReason()) }
        switch process.socket.send(RunnerMessage(op, id: id, fields), waiting: false) {
        case .sent: break
        case .tooLarge:
            state.withLock { _ = $0.waiting.removeValue(forKey: id) }
            throw .refused("the \(op) request is over \(RunnerMessage.maxSize) bytes")
        case .full, .closed:
            // A runner that does not read its socket is stuck: it is killed, and its end awaited.
            state.withLock { _ = $0.waiting.removeValue(forKey: id) }
            kill(because: "it did not read the host's \(op) request")
            throw .lost(await endReason())
        }
        guard let reply = await answer.value(within: limit) else {
            kill(because: "\(op) did not return within \(limit)")
            throw .timedOut(op: op, limit: limit)
        }
        guard let reply else { throw .lost(await endReason()) }
        if let error = try? reply.text("error") { throw .refused(error) }
        return reply
    }

    /// Tells the runner to exit (after `stop`).
    func sendExit() { process.socket.send(RunnerMessage("exit"), waiting: false) }

    /// Kills the runner (SIGKILL); the reader then reaps it and ends the session.
    func kill(because reason: String) {
        state.withLock { if $0.killedBecause == nil { $0.killedBecause = reason } }
        process.kill()
    }

    private func endReason() async -> String {
        await ended.value(within: .seconds(30)) ?? "it did not exit"
    }

    /// The reader thread: answers go to their requests, everything else is a call of the plugin.
    private func read() {
        let reason = process.socket.receive { (message) throws(MalformedRunnerMessage) in
            if message.op == "reply" {
                guard let id = message.id, let waiter = state.withLock({ $0.waiting.removeValue(forKey: id) }) else { return }
                waiter.fulfil(message)
            } else {
                guard let calls = state.withLock({ $0.calls }) else { throw MalformedRunnerMessage(description: "a \(message.op) call before load") }
                try calls.serve(message)
            }
        }
        // Finished first, so no new request is sent; the socket is shut down (late sends fail) but
        // its descriptor lives as long as the objects that hold it.
        let (waiters, calls) = state.withLock { state in
            state.finished = true
            defer { state.waiting = [:] }
            return (Array(state.waiting.values), state.calls)
        }
        process.socket.shutdown()
        calls?.close()
        process.kill()
        let exit = process.waitForExit()
        let killed = state.withLock { $0.killedBecause }
        for waiter in waiters { waiter.fulfil(nil) }
        ended.fulfil(killed.map { "the host killed it: \($0)" } ?? "the runner \(exit) (\(reason))")
    }
}
