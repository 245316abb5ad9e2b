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
}
