import Foundation
import ZFlowBatch
import ZFlowModels
import ZFlowTensor
import ZFlowTrain

/// The values ZNet's parameters start from (`--init`), for the keys and shapes of ZNet's
/// weights file (`file`: its `model.diffusion_model.*` training copy).
enum ZNetStart {
    static func tree(_ initialisation: TrainingConfiguration.Initialisation, file: TensorTree, config: UNetConfig,
                     fusion: String, seed: Int, stableDiffusion: String?) throws -> TensorTree {
        let shapes = file.tensors.mapValues(\.shape)
        switch initialisation {
        case .weightsFile:
            return file
        case .random:
            return try ParameterInitialisation.random(shapes: shapes, seed: UInt64(bitPattern: Int64(seed)))
        case .stableDiffusion:
            guard let stableDiffusion else {
                throw BatchError("--init sd: no UNetFeatures or VAEEncode node feeds the trained ZNet, so there are no SD weights to start from")
            }
            do {
                let (unet, sdConfig) = try StableDiffusionWeights(url: URL(fileURLWithPath: stableDiffusion)).unet()
                return try ParameterInitialisation.zNetFromStableDiffusion(unet, config: sdConfig, zNetShapes: shapes,
                                                                          seed: UInt64(bitPattern: Int64(seed)))
            } catch {
                throw BatchError("--init sd (\(stableDiffusion)): \(error)")
            }
        case let .checkpoint(path):
            let loaded: [String: Tensor]
            do {
                loaded = try LDZNetCheckpoint(url: URL(fileURLWithPath: path), copy: .training)
                    .loadZNet(config: config, fusion: fusion).znet.parameters
            } catch {
                throw BatchError("--init \(path): \(error)")
            }
            var tensors: [String: Tensor] = [:]
            for (key, shape) in shapes.sorted(by: { $0.key < $1.key }) {
                guard let tensor = loaded[key] else { throw BatchError("--init \(path): has no '\(key)', which ZNet's weights have") }
                // The model may read a weight in another shape ([O, I] for a stored [O, I, 1, 1]).
                guard tensor.count == Tensor.elementCount(shape) else {
                    throw BatchError("--init \(path): '\(key)' has shape \(tensor.shape), ZNet's weights have \(shape)")
                }
                tensors[key] = try tensor.copied().reshaped(shape)
            }
            return TensorTree(tensors)
        }
    }
}
