import ZFlowGraph
import ZFlowTensor

/// A node that computes on tensors from the host: logits divided by a temperature, so that
/// `Threshold` after it sees them softened (> 1) or sharpened (< 1).
struct Temperature: NodeType {
    let schema = NodeSchema(
        name: "Temperature",
        doc: "Divides logits by a temperature before they are thresholded.",
        inputs: [
            InputSpec("logits", .logits, doc: "Logits, e.g. a ZNet's output."),
            InputSpec("value", .float, default: .float(1), range: 0.01...100, doc: "The temperature."),
        ],
        outputs: [OutputSpec("logits", .logits, doc: "logits / value.")])

    func execute(_ inputs: NodeInputs) throws -> NodeOutputs {
        let logits: Tensor = try inputs.value("logits")
        return NodeOutputs(["logits": scaled(logits, by: Float(1 / (try inputs.float("value"))))])
    }
}
