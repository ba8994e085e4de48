import Foundation
import Synchronization

/// Debian's `chromium`, headless, driven through the DevTools protocol over its WebSocket: open a
/// page, evaluate JavaScript in it, and collect what its console reported as an error (console
/// errors, uncaught exceptions, failed loads). Killed when released.
public final class HeadlessChromium: Sendable {
    public static let path = "/usr/bin/chromium"
    public static var isInstalled: Bool { FileManager.default.isExecutableFile(atPath: path) }

    /// The browser said something other than what was asked.
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    private let process: ChildProcess
    private let profile: String
    private let socket: TestWebSocket
    private let nextId = Mutex<Int>(0)

    public init() async throws {
        profile = NSTemporaryDirectory() + "carrier-chromium-\(UUID().uuidString)"
        process = try ChildProcess.start(Self.path, ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                                                     "--disable-extensions", "--remote-debugging-port=0", "--user-data-dir=\(profile)",
                                                     "about:blank"])
        // "DevTools listening on ws://127.0.0.1:PORT/devtools/browser/UUID"
        let line = try await process.waitForLine(within: .seconds(30)) { $0.contains("ws://127.0.0.1:") }
        let rest = line[line.range(of: "ws://127.0.0.1:")!.upperBound...].prefix { !$0.isWhitespace }
        guard let slash = rest.firstIndex(of: "/"), let port = Int(rest[..<slash]) else {
            throw Failure(description: "chromium printed no DevTools address: \(line)")
        }
        socket = try await TestWebSocket.connect(host: "127.0.0.1", port: port, path: String(rest[slash...]))
    }

    deinit {
        process.stop()
        try? FileManager.default.removeItem(atPath: profile)
    }

    /// A DevTools call (in a page's session when given); returns its result, or throws its error.
    @discardableResult
    public func call(_ method: String, _ params: [String: Any] = [:], session: String? = nil,
                     within limit: Duration = .seconds(30)) async throws -> [String: Any] {
        let id = nextId.withLock { $0 += 1; return $0 }
        var message: [String: Any] = ["id": id, "method": method, "params": params]
        if let session { message["sessionId"] = session }
        try await socket.send(String(decoding: try JSONSerialization.data(withJSONObject: message), as: UTF8.self))
        // The answer is the message whose top-level "id" is ours (events carry ids of their own inside).
        var answer: [String: Any]?
        _ = await eventually(within: limit) {
            answer = self.socket.received.lazy.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
                .first { ($0["id"] as? Int) == id }
            return answer != nil
        }
        guard let json = answer else { throw Failure(description: "no answer to \(method)") }
        if let error = json["error"] { throw Failure(description: "\(method): \(error)") }
        return json["result"] as? [String: Any] ?? [:]
    }

    /// Opens `url` in a new page and returns its session, with console and log reporting on.
    public func open(_ url: String) async throws -> String {
        let target = try await call("Target.createTarget", ["url": "about:blank"])
        guard let targetId = target["targetId"] as? String else { throw Failure(description: "no target: \(target)") }
        let attached = try await call("Target.attachToTarget", ["targetId": targetId, "flatten": true])
        guard let session = attached["sessionId"] as? String else { throw Failure(description: "no session: \(attached)") }
        try await call("Runtime.enable", session: session)
        try await call("Log.enable", session: session)
        try await call("Page.enable", session: session)
        try await call("Page.navigate", ["url": url], session: session)
        let loaded = await eventually(within: .seconds(20)) {
            (try? await self.evaluate("document.readyState", session: session)) == "\"complete\""
        }
        guard loaded else { throw Failure(description: "\(url) did not finish loading") }
        return session
    }

    /// Evaluates `expression` in the page (awaiting a promise) and returns its value as JSON text.
    public func evaluate(_ expression: String, session: String) async throws -> String {
        let result = try await call("Runtime.evaluate", ["expression": "Promise.resolve(\(expression)).then((v) => JSON.stringify(v))",
                                                         "awaitPromise": true, "returnByValue": true], session: session)
        if let exception = result["exceptionDetails"] { throw Failure(description: "\(expression) threw: \(exception)") }
        return ((result["result"] as? [String: Any])?["value"] as? String) ?? "null"
    }

    /// The errors a page reported: console.error calls, uncaught exceptions, log entries at level
    /// error (failed loads, refused connections).
    public func errors(session: String) -> [String] {
        socket.received.filter { $0.contains(#""sessionId":"\#(session)""#) }.filter { message in
            message.contains(#""method":"Runtime.exceptionThrown""#)
                || (message.contains(#""method":"Runtime.consoleAPICalled""#) && message.contains(#""type":"error""#))
                || (message.contains(#""method":"Log.entryAdded""#) && message.contains(#""level":"error""#))
        }
    }
}
