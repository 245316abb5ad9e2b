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

/// `LoadTensor(path, name, as)`: one tensor from a safetensors file or a PyTorch checkpoint,
/// given as the port type `as` names (so that e.g. a saved latent can feed ZNet).
let loadTensorNode = ClosureNode(NodeSchema(
    name: "LoadTensor", doc: "Reads one tensor from a .safetensors file or a PyTorch checkpoint, as the type 'as' names.",
    inputs: [
        InputSpec("path", .path, doc: "a .safetensors file, a PyTorch checkpoint, or the .index.json of a sharded one"),
        InputSpec("name", .string, default: .string("value"), doc: "the tensor's key"),
        InputSpec("as", .string, default: .string(PortType.tensor.description),
                  choices: TensorForm.loadableTypes.map { .string($0.description) },
                  doc: "the output's type (as: Latent); the tensor's shape must fit it"),
    ],
    outputs: [OutputSpec("value", .tensor, typeFrom: "as", doc: "the tensor as float32")])
) { inputs in
    let source = try openTensorSource(URL(fileURLWithPath: try inputs.path("path")))
    let name = try inputs.string("name")
    let typeName = try inputs.string("as")
    guard let type = PortType(name: typeName), TensorForm.loadableTypes.contains(type) else {
        throw NodeError("cannot load a tensor as '\(typeName)'")
    }
    guard let shape = source.shape(of: name) else {
        let known = source.keys.prefix(8).joined(separator: ", ")
        throw NodeError("\(source.origin) has no tensor '\(name)' (it has: \(known)\(source.keys.count > 8 ? ", ..." : ""))")
    }
    guard TensorForm.fits(shape, as: type) else {
        throw NodeError("tensor '\(name)' in \(source.origin) has shape \(shape), "
            + "but as: \(type) needs \(TensorForm.description(of: type))")
    }
    return NodeOutputs(["value": try source.tensor(name)])
}
