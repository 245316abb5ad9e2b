import ArgumentParser
import ZFlowGraph

struct NodesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nodes",
        abstract: "List the node types, or show one with its ports, types, defaults and docs.")

    @Argument(help: ArgumentHelp("A node type to show in full.", valueName: "TYPE"))
    var type: String?

    @OptionGroup var plugins: PluginOptions

    func run() throws {
        let registry = try plugins.makeRegistry()
        guard let type else {
            print(Catalogue.summary(registry), terminator: "")
            return
        }
        guard let node = registry.nodeType(named: type) else {
            let hint = Suggestions.hint(for: type, in: registry.typeNames)
            printError("zflow: unknown node type '\(type)'\(hint) (`zflow nodes` lists them)")
            throw ExitStatus.usage.exitCode
        }
        print(Catalogue.details(node.schema), terminator: "")
    }
}
