import ZFlowGraph

/// A fusion strategy for two score lists: a weighted average, element by element.
struct Blend: NodeType {
    let schema = NodeSchema(
        name: "Blend",
        doc: "Fuses two score lists: (1 - weight) * a + weight * b, element by element.",
        inputs: [
            InputSpec("a", .list(.float), doc: "The first scores."),
            InputSpec("b", .list(.float), doc: "The second scores, as many as a."),
            InputSpec("weight", .float, default: .float(0.5), range: 0...1, doc: "The share of b."),
        ],
        outputs: [OutputSpec("scores", .list(.float), doc: "The fused scores.")])

    func execute(_ inputs: NodeInputs) throws -> NodeOutputs {
        let a: [Double] = try inputs.value("a")
        let b: [Double] = try inputs.value("b")
        let weight = try inputs.float("weight")
        guard a.count == b.count else {
            throw NodeError("a has \(a.count) scores but b has \(b.count)")
        }
        return NodeOutputs(["scores": zip(a, b).map { (1 - weight) * $0 + weight * $1 }])
    }
}
