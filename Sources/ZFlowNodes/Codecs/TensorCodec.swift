import Foundation
import ZFlowGraph
import ZFlowIO
import ZFlowTensor

/// Tensor-valued ports (latents, embeddings, logits, masks) as safetensors bytes,
/// for the disk cache and for `--dump`.
struct TensorCodec: PortCodec {
    func encode(_ value: any Sendable) throws -> Data {
        Data(try encodeSafeTensors(["value": try tensor(value)]))
    }

    func decode(_ data: Data) throws -> any Sendable {
        try SafeTensorsFile(bytes: [UInt8](data), origin: "cached tensor").tensor("value")
    }

    func export(_ value: any Sendable, name: String) throws -> Data {
        Data(try encodeSafeTensors([name: try tensor(value)]))
    }

    var exportExtension: String { "safetensors" }

    func byteCount(of value: any Sendable) -> Int {
        ((value as? Tensor)?.count ?? 0) * MemoryLayout<Float>.size
    }

    private func tensor(_ value: any Sendable) throws -> Tensor {
        guard let tensor = value as? Tensor else { throw NodeError("a \(type(of: value)) is not a tensor") }
        return tensor
    }
}

/// `Features` ports: one safetensors entry per tap (`tap6`, ...), the stage in the metadata.
struct FeatureSetCodec: PortCodec {
    func encode(_ value: any Sendable) throws -> Data {
        let features = try featureSet(value)
        return Data(try encodeSafeTensors(Dictionary(uniqueKeysWithValues: features.taps.map { ("tap\($0.key)", $0.value) }),
                                     metadata: ["stage": features.stage.rawValue]))
    }

    func decode(_ data: Data) throws -> any Sendable {
        let file = try SafeTensorsFile(bytes: [UInt8](data), origin: "cached features")
        guard let stage = file.metadata["stage"].flatMap(FeatureSet.Stage.init(rawValue:)) else {
            throw NodeError("cached features have no stage")
        }
        var taps: [Int: Tensor] = [:]
        for key in file.keys {
            guard key.hasPrefix("tap"), let number = Int(key.dropFirst(3)) else {
                throw NodeError("cached features hold an unexpected key '\(key)'")
            }
            taps[number] = try file.tensor(key)
        }
        return FeatureSet(stage: stage, taps: taps)
    }

    func export(_ value: any Sendable, name: String) throws -> Data { try encode(value) }

    var exportExtension: String { "safetensors" }

    func byteCount(of value: any Sendable) -> Int {
        ((value as? FeatureSet)?.taps.values.map(\.count).reduce(0, +) ?? 0) * MemoryLayout<Float>.size
    }

    private func featureSet(_ value: any Sendable) throws -> FeatureSet {
        guard let features = value as? FeatureSet else { throw NodeError("a \(type(of: value)) is not a feature set") }
        return features
    }
}
