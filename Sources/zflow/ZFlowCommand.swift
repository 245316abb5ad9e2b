import ArgumentParser
import Foundation
import ZFlowGraph
import ZFlowTensor

@main
struct ZFlowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "zflow",
        abstract: "Run .zflow dataflow graphs of typed nodes, with memoized results.",
        discussion: """
            A .zflow file wires nodes into a graph (grammar: docs/language.md):
              param image: Path = "examples/images/chelsea.png"
              img = LoadImage(path: image)
              SaveTensor(value: img, path: "out/img.safetensors", name: "img")
            Files the graph names (images, model weight folders) are read by the \
            nodes; `zflow nodes TYPE` says what each node needs.

            Exit codes: 0 success, 1 a node failed, 2 usage error (bad option, \
            unknown --set parameter, unreadable file), 3 the graph has errors, \
            4 a plugin could not be loaded.
            """,
        subcommands: [RunCommand.self, CheckCommand.self, NodesCommand.self, DotCommand.self, ConvertCommand.self, TuneCommand.self, DatasetCommand.self, TrainCommand.self, ProbeCommand.self]
            + batchCommands)

    // Not `CommandConfiguration.version`: that string is built on every start, and naming the
    // BLAS loads it, which only `--version` and the commands that compute should do.
    @Flag(help: "Show the ZFlow version, the kernel libraries in use and this machine's tuning file.")
    var version = false

    func run() async throws {
        guard version else { throw CleanExit.helpRequest(self) }
        let tuner = KernelTuner.shared
        print("zflow \(ZFlowVersion.string)\nBLAS: \(blasDescription)")
        print("oneDNN: \(KernelBackend.onednn.libraryDescription)")
        print("own kernels: \(ownKernelWidth)")
        print("CPU: \(MachineKey.current.summary)")
        print("tuning file: \(tuner.file?.path ?? "none")\(tuner.forced.map { " (ZFLOW_BACKEND=\($0.rawValue) forces every op)" } ?? "")")
    }

    /// Parses and runs a subcommand; argument-parser usage errors exit with 2, and so does a kernel
    /// setting in the environment that names no backend or mode.
    static func main() async {
        let environment = ProcessInfo.processInfo.environment
        for (name, allowed) in [("ZFLOW_BACKEND", KernelBackend.allCases.map(\.rawValue)), ("ZFLOW_TUNING", ["measure", "recorded"])] {
            if let value = environment[name], !value.isEmpty, !allowed.contains(value.lowercased()) {
                FileHandle.standardError.write(Data("zflow: \(name)=\(value) is not one of \(allowed.joined(separator: ", "))\n".utf8))
                Foundation.exit(ExitStatus.usage.rawValue)
            }
        }
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            let code = exitCode(for: error)
            if code == .validationFailure {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(ExitStatus.usage.rawValue)
            }
            exit(withError: error)
        }
    }
}
