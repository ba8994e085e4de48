import Dispatch
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// SIGHUP as "reload the manifests": each one calls the handler; the default action (exit) is off.
enum ReloadSignal {
    nonisolated(unsafe) private static var source: DispatchSourceSignal?

    /// Starts calling `handler` on every SIGHUP. Call once, first thing, like `StopSignal.install`.
    static func install(_ handler: @escaping @Sendable () -> Void) {
        signal(SIGHUP, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        source.setEventHandler(handler: handler)
        source.resume()
        Self.source = source
    }
}
