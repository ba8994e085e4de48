import ArgumentParser
import CarrierHost
import Foundation

/// `carrier plugins`: operator tools for plugin libraries and manifests.
struct PluginsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plugins",
        abstract: "List a supernode's plugins, reload its manifests, check plugin libraries and pin them.",
        subcommands: [List.self, Reload.self, Check.self, Pin.self, Inspect.self])

    /// `--admin HOST:PORT`, shared by the commands that ask a running supernode.
    struct AdminOptions: ParsableArguments {
        @Option(help: ArgumentHelp("The supernode's admin endpoint (node.toml's `admin`).", valueName: "HOST:PORT"))
        var admin = "127.0.0.1:39080"
        @Flag(help: "Print the result as JSON for scripts.") var json = false

        /// Sends `method path` to the admin endpoint and prints the plugin list it answers with.
        func showPlugins(_ method: String, _ path: String) async throws {
            let data = try await AdminClient(endpoint: admin).request(method, path)
            if json { return Console.line(String(decoding: data, as: UTF8.self).trimmingCharacters(in: .newlines)) }
            let plugins = try JSONDecoder().decode([AdminRoutes.Plugin].self, from: data)
            guard !plugins.isEmpty else { return Console.line("no plugins") }
            for plugin in plugins {
                var line = "\(plugin.id)  \(plugin.state)  \(plugin.isolation)"
                if let version = plugin.version { line += "  v\(version)" }
                if let health = plugin.health { line += "  health: \(health)" + (plugin.detail.map { " (\($0))" } ?? "") }
                if let losses = plugin.runnerLosses, losses > 0 { line += "  runner lost \(losses)x" }
                if let error = plugin.error { line += "  error: \(error)" }
                Console.line(line)
            }
        }
    }

    /// `carrier plugins list`
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List a running supernode's plugins: state, isolation, version and health.",
            discussion: "Asks the admin endpoint of a supernode started with `carrier run --manifests`.")

        @OptionGroup var options: AdminOptions

        func run() async throws { try await reportingFailures { try await options.showPlugins("GET", "/plugins") } }
    }

    /// `carrier plugins reload`
    struct Reload: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a running supernode re-read its manifests (as SIGHUP does) and list the result.")

        @OptionGroup var options: AdminOptions

        func run() async throws { try await reportingFailures { try await options.showPlugins("POST", "/reload") } }
    }

    /// `carrier plugins check PATH-OR-MANIFEST`
    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Load a plugin library in a child process and print what it is, or why it cannot be loaded.",
            discussion: """
                Takes a shared library or a manifest. For a manifest it also checks the library's \
                SHA-256 against the manifest's pin and exits 1 when the pin is missing or differs, as \
                the host refuses such a library. A library path is taken relative to the current \
                folder (a manifest's, relative to the manifest), never searched on the loader path. \
                The library is loaded by a child process, so a plugin that crashes while loading \
                cannot take this command down; its crash is reported.

                Example: carrier plugins check Plugins/examples/hello-c/libhello-c.so
                """)

        @Argument(help: ArgumentHelp("A plugin library (.so) or its manifest (.toml).", valueName: "PATH-OR-MANIFEST"))
        var target: String
        @Flag(help: "Print the result as JSON for scripts.") var json = false

        func run() throws { try reportingFailures { try check() } }

        private func check() throws {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/proc/self/exe")
            process.arguments = ["plugins", "inspect", target]
            let output = Pipe(), errors = Pipe()
            process.standardOutput = output
            process.standardError = errors
            try process.run()
            let report = output.fileHandleForReading.readDataToEndOfFile()
            let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            if process.terminationReason == .uncaughtSignal {
                throw CommandFailure("\(target): loading it crashed the checker (signal \(process.terminationStatus))")
            }
            guard process.terminationStatus == 0 else {
                throw CommandFailure(message.trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: "error: ", with: ""))
            }
            let facts = try JSONDecoder().decode([String: String].self, from: report)
            let pin = facts["pin"].flatMap(PinState.init(rawValue:))
            if json {
                Console.line(JSONOutput.object(facts.mapValues { .string($0) }))
            } else {
                for key in ["id", "version", "abi", "capabilities", "description", "sha256"] {
                    if let value = facts[key] { Console.line("\(key): \(value)") }
                }
                if let pin { Console.line("pin: \(pin.rawValue)") }
            }
            switch pin {
            case .mismatch?:
                throw CommandFailure("\(target) pins sha256 \(facts["pinned"] ?? "?"), but the library has \(facts["sha256"] ?? "?"): "
                    + "the host refuses it (re-pin with `carrier plugins pin \(target)` if the change is yours)")
            case .missing?:
                throw CommandFailure("\(target) has no sha256: the host refuses it; run `carrier plugins pin \(target)`")
            case .ok?, nil:
                break
            }
        }
    }

    /// How a manifest's pin compares with its library (`pin` in `check --json`).
    enum PinState: String {
        case ok, mismatch, missing
    }

    /// `carrier plugins inspect PATH`: the child side of `check` (loads in this process).
    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Load a library in this process (used by `check`).",
                                                        shouldDisplay: false)

        @Argument var target: String

        func run() throws { try reportingFailures { try inspect() } }

        private func inspect() throws {
            do {
                var facts: [String: String] = [:]
                let library: PluginLibrary
                if target.hasSuffix(".toml") {
                    let manifest = try PluginManifest.load(target)
                    library = try PluginLibrary.load(manifest, requirePin: false)
                    let pin: PinState = manifest.sha256 == nil ? .missing : manifest.sha256 == library.sha256 ? .ok : .mismatch
                    facts["pin"] = pin.rawValue
                    if let pinned = manifest.sha256 { facts["pinned"] = pinned }
                } else {
                    library = try PluginLibrary.load(path: target)
                }
                facts["id"] = library.id
                facts["version"] = library.version
                facts["abi"] = "\(library.abiVersion.major).\(library.abiVersion.minor)"
                facts["capabilities"] = library.capabilityNames.joined(separator: ", ")
                facts["description"] = library.summary
                facts["sha256"] = library.sha256
                let data = try JSONEncoder().encode(facts)
                FileHandle.standardOutput.write(data)
            } catch {
                throw CommandFailure(Self.naming(target, in: "\(error)"))
            }
        }

        /// `message` as it is when it names `target` already (a manifest error names its file, a
        /// load error its library), else prefixed with `target`.
        static func naming(_ target: String, in message: String) -> String {
            let absolute = URL(fileURLWithPath: target).standardizedFileURL.path
            return message.contains(target) || message.contains(absolute) ? message : "\(target): \(message)"
        }
    }

    /// `carrier plugins pin MANIFEST`
    struct Pin: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write the SHA-256 of a manifest's library into the manifest.",
            discussion: "The host refuses a library whose hash differs from its manifest's pin. Run this after building or updating a plugin.")

        @Argument(help: ArgumentHelp("The manifest (.toml) to pin.", valueName: "MANIFEST")) var manifest: String

        func run() throws {
            try reportingFailures {
                do { Console.line(try ManifestPin.pin(manifest)) } catch { throw CommandFailure("\(error)") }
            }
        }
    }
}
