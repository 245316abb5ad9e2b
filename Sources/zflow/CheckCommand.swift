import ArgumentParser
import ZFlowGraph

struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Parse and type-check graphs without running anything.",
        discussion: """
            Prints every error of each file with its location, or one summary line per good \
            file; exit code 3 when any file has errors, else 2 when any cannot be read.
            """)

    @Argument(help: ArgumentHelp("The .zflow graph files.", valueName: "FILE"))
    var files: [String]

    @OptionGroup var plugins: PluginOptions

    func run() throws {
        let registry = try plugins.makeRegistry()
        var worst = ExitStatus.success
        for file in files {
            do {
                let graph = try readGraph(file, registry: registry)
                let sinks = graph.sinks.count
                print("\(file): ok (\(graph.params.count) params, \(graph.nodes.count - sinks) nodes, \(sinks) sink\(sinks == 1 ? "" : "s"))")
            } catch {
                printError(error.message)
                if error.status.rawValue > worst.rawValue { worst = error.status }
            }
        }
        if worst != .success { throw worst.exitCode }
    }
}
