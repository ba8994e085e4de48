import ArgumentParser
import CarrierCore
import CarrierHost

/// `carrier plugin-runner`: the child process a supernode starts for each plugin whose manifest
/// says `isolation = "process"`. Not for direct use.
struct PluginRunnerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plugin-runner",
        abstract: "Run one plugin in its own process for a supernode (started by `carrier run`; not for direct use).",
        discussion: """
            A manifest with isolation = "process" makes the supernode start this command with one end \
            of a Unix socket as --fd. The runner loads the plugin's library (checking its pinned \
            sha256), calls it through the same C ABI as the supernode would, and carries every host-API \
            call over the socket. If the plugin crashes, only this process dies; the supernode restarts \
            it with backoff. See docs/process-isolation.md.
            """)

    @Option(help: "The descriptor of the socket to the supervising supernode.")
    var fd: Int32

    func run() throws {
        // Inherited from the supernode, but a runner started some other way needs it too.
        FileDescriptorLimit.raiseToHard()
        throw ExitCode(PluginRunner.serve(descriptor: fd))
    }
}
