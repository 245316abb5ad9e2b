// Which nodes a run needs: the targets and everything they read, transitively.

enum Planner {
    static func needed(_ graph: CheckedGraph, targets: [Int]) -> Set<Int> {
        var needed: Set<Int> = []
        var work = targets
        while let index = work.popLast() {
            guard needed.insert(index).inserted else { continue }
            work.append(contentsOf: graph.nodes[index].dependencies)
        }
        return needed
    }

    /// The needed nodes ordered so that every node comes after the nodes it reads.
    static func topologicalOrder(_ graph: CheckedGraph, nodes: Set<Int>) -> [Int] {
        var order: [Int] = []
        var done: Set<Int> = []
        for root in nodes.sorted() where !done.contains(root) {
            var stack: [(node: Int, expanded: Bool)] = [(root, false)]
            while let (node, expanded) = stack.popLast() {
                if done.contains(node) { continue }
                if expanded {
                    done.insert(node)
                    order.append(node)
                    continue
                }
                stack.append((node, true))
                for dependency in graph.nodes[node].dependencies.sorted(by: >) where !done.contains(dependency) {
                    stack.append((dependency, false))
                }
            }
        }
        return order
    }

    /// The outputs each of `nodes` must produce: all of them, less the on-demand
    /// outputs that no node in `nodes` reads and that are not `requested`.
    static func producedOutputs(_ graph: CheckedGraph, nodes: Set<Int>, requested: [OutputReference]) -> [Int: [OutputSpec]] {
        var read: [Int: Set<String>] = [:]
        for reference in requested { read[reference.node, default: []].insert(reference.port) }
        for index in nodes {
            for case .output(let source, let port) in graph.nodes[index].inputs.values {
                read[source, default: []].insert(port)
            }
        }
        var produced: [Int: [OutputSpec]] = [:]
        for index in nodes {
            produced[index] = graph.nodes[index].schema.outputs.filter {
                !$0.isOnDemand || read[index, default: []].contains($0.name)
            }
        }
        return produced
    }
}
