import Foundation
import ZFlowGraph
import ZFlowIO
import ZFlowTensor

/// `SaveTensor(value, path, name)`: any tensor-valued port into a safetensors file (`TensorFileForm`).
let saveTensorNode = ClosureNode(NodeSchema(
    name: "SaveTensor", doc: "Writes any tensor-valued port to a safetensors file under a key.",
    inputs: [
        InputSpec("value", .tensor, doc: "a tensor, latent, embedding, logits, mask, image ([H, W, 3] of x / 255) "
                  + "or features (one tensor per tap under NAME.tapN)"),
        InputSpec("path", .path, doc: "the .safetensors file to write (folders are created)"),
        InputSpec("name", .string, default: .string("value"), doc: "the tensor's key in the file"),
    ],
    outputs: [], isCacheable: false)
) { inputs in
    let (tensors, metadata) = try TensorFileForm.entries(of: try inputs.value("value"), name: try inputs.string("name"))
    try writeSafeTensors(tensors, to: try outputFile(try inputs.path("path")), metadata: metadata)
    return NodeOutputs()
}

/// `LoadTensor(path, name, as)`: a value from a safetensors file or a PyTorch checkpoint, given
/// as the port type `as` names (so that e.g. a saved latent can feed ZNet).
let loadTensorNode = ClosureNode(NodeSchema(
    name: "LoadTensor", doc: "Reads one tensor from a .safetensors file or a PyTorch checkpoint, as the type 'as' names.",
    inputs: [
        InputSpec("path", .path, doc: "a .safetensors file, a PyTorch checkpoint, or the .index.json of a sharded one"),
        InputSpec("name", .string, default: .string("value"),
                  doc: "the tensor's key (Features: the taps are NAME.tap6, NAME.tap7, ...)"),
        InputSpec("as", .string, default: .string(PortType.tensor.description),
                  choices: TensorForm.types.map { .string($0.description) },
                  doc: "the output's type (as: Latent); the tensor's shape must fit it, a leading batch 1 is dropped"),
    ],
    outputs: [OutputSpec("value", .tensor, typeFrom: "as", doc: "the value, from float32 tensors (an Image rounds them to x / 255)")])
) { inputs in
    let path = try inputs.path("path")
    try PathCheck.require(path)
    let typeName = try inputs.string("as")
    guard let type = PortType(name: typeName), TensorForm.types.contains(type) else {
        throw NodeError("cannot load a tensor as '\(typeName)'")
    }
    let source = try openTensorSource(URL(fileURLWithPath: path))
    return NodeOutputs(["value": try TensorFileForm.value(named: try inputs.string("name"), as: type, in: source)])
}
