import Foundation
import ZFlowGraph
import ZFlowIO
import ZFlowTensor

/// Tensor-valued ports (latents, embeddings, logits, masks, feature sets, and `Tensor` ports,
/// which take images and feature sets too) as safetensors bytes in `TensorFileForm`, for the disk
/// cache and for `--dump`: what `--dump` writes, LoadTensor reads.
struct TensorCodec: PortCodec {
    /// The metadata key naming the type a cached value is read back as: `Image`, `Features`, or
    /// `Tensor` for a plain tensor (whatever port it was on, its shape is kept as it is).
    private static let formKey = "zflow.form"

    func encode(_ value: any Sendable) throws -> Data {
        let (tensors, metadata) = try TensorFileForm.entries(of: value, name: "value")
        let form: PortType = switch value {
        case is ImageValue: .image
        case is FeatureSet: .features
        default: .tensor
        }
        return Data(try encodeSafeTensors(tensors, metadata: metadata.merging([Self.formKey: form.description]) { $1 }))
    }

    func decode(_ data: Data) throws -> any Sendable {
        let file = try SafeTensorsFile(bytes: [UInt8](data), origin: "cached tensor")
        guard let form = file.metadata[Self.formKey].flatMap(PortType.init(name:)) else {
            throw NodeError("cached tensor has no form")
        }
        return try TensorFileForm.value(named: "value", as: form, in: file)
    }

    func export(_ value: any Sendable, name: String) throws -> Data {
        let (tensors, metadata) = try TensorFileForm.entries(of: value, name: name)
        return Data(try encodeSafeTensors(tensors, metadata: metadata))
    }

    var exportExtension: String { "safetensors" }

    func byteCount(of value: any Sendable) -> Int { TensorFileForm.byteCount(of: value) }
}
