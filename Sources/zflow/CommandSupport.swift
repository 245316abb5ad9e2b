import ArgumentParser
import Foundation
import ZFlowGraph
import ZFlowNodes

/// The documented exit codes of zflow.
enum ExitStatus: Int32 {
    case success = 0
    case nodeFailed = 1
    case usage = 2
    case graphErrors = 3
    case pluginFailed = 4

    var exitCode: ExitCode { ExitCode(rawValue) }
}

/// Options shared by the commands that need the node catalogue.
struct PluginOptions: ParsableArguments {
    @Option(name: .customLong("plugin"), help: ArgumentHelp(
        "A plugin library (.so/.dylib) exporting zflow_register_plugin; repeatable.", valueName: "PATH"))
    var paths: [String] = []

    /// The built-in node types plus those of every plugin; exits with 4 when a plugin fails.
    func makeRegistry() throws -> NodeRegistry {
        let registry = NodeRegistry()
        registerStandardNodes(into: registry)
        for path in paths {
            do {
                try PluginLoader.load(path, into: registry)
            } catch {
                printError("zflow: \(error)")
                throw ExitStatus.pluginFailed.exitCode
            }
        }
        return registry
    }
}

func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// Reads and checks a graph file, printing diagnostics (exit 3) or read errors (exit 2).
func loadGraph(_ path: String, registry: NodeRegistry) throws -> CheckedGraph {
    let text: String
    do {
        text = try String(contentsOfFile: path, encoding: .utf8)
    } catch {
        printError("zflow: cannot read graph file \(path): \(error.localizedDescription)")
        throw ExitStatus.usage.exitCode
    }
    do {
        return try Checker.check(SourceFile(name: path, text: text), registry: registry)
    } catch let diagnostics as GraphDiagnostics {
        printError(diagnostics.description)
        throw ExitStatus.graphErrors.exitCode
    }
}
