import ArgumentParser
import ZFlowGraph

struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Parse and type-check a graph without running anything.",
        discussion: "Prints every error of the file with its location; exit code 3 when there are errors.")

    @Argument(help: ArgumentHelp("The .zflow graph file.", valueName: "FILE"))
    var file: String

    @OptionGroup var plugins: PluginOptions

    func run() throws {
        let graph = try loadGraph(file, registry: try plugins.makeRegistry())
        let sinks = graph.sinks.count
        print("\(file): ok (\(graph.params.count) params, \(graph.nodes.count - sinks) nodes, \(sinks) sink\(sinks == 1 ? "" : "s"))")
    }
}
