import ArgumentParser
import ZFlowGraph

struct DotCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dot",
        abstract: "Print a graph as Graphviz text (e.g. `zflow dot g.zflow | dot -Tsvg > g.svg`).")

    @Argument(help: ArgumentHelp("The .zflow graph file.", valueName: "FILE"))
    var file: String

    @OptionGroup var plugins: PluginOptions

    func run() throws {
        print(DotExport.dot(try loadGraph(file, registry: try plugins.makeRegistry())), terminator: "")
    }
}
