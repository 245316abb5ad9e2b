import Foundation
import ZFlowGraph
import ZFlowIO
import ZFlowTensor

/// `SaveTensor(value, path, name)`: one tensor into a safetensors file.
let saveTensorNode = ClosureNode(NodeSchema(
    name: "SaveTensor", doc: "Writes any tensor-valued port to a safetensors file under a key.",
    inputs: [
        InputSpec("value", .tensor, doc: "a latent, embedding, logits, mask or tensor"),
        InputSpec("path", .path, doc: "the .safetensors file to write (folders are created)"),
        InputSpec("name", .string, default: .string("value"), doc: "the tensor's key in the file"),
    ],
    outputs: [], isCacheable: false)
) { inputs in
    try writeSafeTensors([try inputs.string("name"): try inputs.tensor("value")], to: prepareOutput(try inputs.path("path")))
    return NodeOutputs()
}

/// `LoadTensor(path, name)`: one tensor from a safetensors file or a PyTorch checkpoint.
let loadTensorNode = ClosureNode(NodeSchema(
    name: "LoadTensor", doc: "Reads one tensor from a .safetensors file or a PyTorch checkpoint.",
    inputs: [
        InputSpec("path", .path, doc: "the file"),
        InputSpec("name", .string, default: .string("value"), doc: "the tensor's key"),
    ],
    outputs: [OutputSpec("value", .tensor, doc: "the tensor as float32")])
) { inputs in
    let source = try openTensorSource(URL(fileURLWithPath: try inputs.path("path")))
    let name = try inputs.string("name")
    guard source.shape(of: name) != nil else {
        let known = source.keys.prefix(8).joined(separator: ", ")
        throw NodeError("\(source.origin) has no tensor '\(name)' (it has: \(known)\(source.keys.count > 8 ? ", ..." : ""))")
    }
    return NodeOutputs(["value": try source.tensor(name)])
}
