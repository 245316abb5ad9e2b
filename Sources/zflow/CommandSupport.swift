import ArgumentParser
import Foundation
import ZFlowGraph
import ZFlowIO
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

/// A graph file that cannot be used: what to print on stderr, and the exit status it means.
struct GraphFileProblem: Error {
    var message: String
    var status: ExitStatus
}

/// Reads a graph file as bytes and checks it: a missing path or a folder is a usage problem (2),
/// anything wrong inside the file, including bytes that are not UTF-8, a graph error (3).
func readGraph(_ path: String, registry: NodeRegistry) throws(GraphFileProblem) -> CheckedGraph {
    do {
        try PathCheck.require(path)
        return try Checker.check(fileAt: path, registry: registry)
    } catch let diagnostics as GraphDiagnostics {
        throw GraphFileProblem(message: diagnostics.description, status: .graphErrors)
    } catch let problem as PathProblem {
        throw GraphFileProblem(message: "zflow: \(problem)", status: .usage)
    } catch {
        throw GraphFileProblem(message: "zflow: cannot read graph file \(path): \(error.localizedDescription)", status: .usage)
    }
}

/// `readGraph`, printing the problem and exiting with its status.
func loadGraph(_ path: String, registry: NodeRegistry) throws -> CheckedGraph {
    do {
        return try readGraph(path, registry: registry)
    } catch {
        printError(error.message)
        throw error.status.exitCode
    }
}
