import Foundation

// `zflow dot`: a checked graph as Graphviz text. Params are ellipses, nodes
// boxes (sinks bold); edges are labelled with the argument they feed.

public enum DotExport {
    public static func dot(_ graph: CheckedGraph) -> String {
        var lines = ["digraph \(quote(graph.source.name)) {", "  rankdir=LR;", "  node [shape=box, fontname=\"Helvetica\"];"]
        for param in graph.params {
            lines.append("  \(quote("param:" + param.name)) [shape=ellipse, label=\(quote("\(param.name): \(param.type)\n= \(param.defaultValue)"))];")
        }
        for node in graph.nodes {
            let label = node.name.map { "\($0)\n\(node.schema.name)" } ?? node.displayName
            lines.append("  \(quote("node:\(node.index)")) [label=\(quote(label))\(node.isSink ? ", style=bold" : "")];")
        }
        for node in graph.nodes {
            for (argument, binding) in node.inputs.sorted(by: { $0.key < $1.key }) {
                switch binding {
                case .param(let name):
                    lines.append("  \(quote("param:" + name)) -> \(quote("node:\(node.index)")) [label=\(quote(argument))];")
                case .output(let source, let port):
                    let single = graph.nodes[source].schema.outputs.count == 1
                    let label = single ? argument : "\(port) -> \(argument)"
                    lines.append("  \(quote("node:\(source)")) -> \(quote("node:\(node.index)")) [label=\(quote(label))];")
                case .constant:
                    break
                }
            }
        }
        lines.append("}")
        return lines.joined(separator: "\n") + "\n"
    }

    private static func quote(_ text: String) -> String {
        "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n") + "\""
    }
}
