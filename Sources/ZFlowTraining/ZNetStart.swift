import Foundation
import ZFlowBatch
import ZFlowIO
import ZFlowModels
import ZFlowTensor
import ZFlowTrain

/// The values ZNet's parameters start from (`--init`), for the keys and shapes of ZNet's
/// weights file (its `model.diffusion_model.*` training copy, the fusion's missing parameters filled).
enum ZNetStart {
    /// An LD-ZNet checkpoint with the parameters of `fusion` it stores none of filled in from the
    /// strategy's initial values (`LDZNetCheckpoint.initialFusionParameters`, seeded by `--seed`).
    struct Filled {
        var checkpoint: LDZNetCheckpoint
        /// The filled-in tensors, under their stored keys.
        var initial: [String: Tensor]

        /// The training copy: `model.diffusion_model.*`.
        func trainingCopy() throws -> TensorTree {
            try TensorTree(source: checkpoint.source, prefix: TrainedZNet.trainedPrefix)
        }
    }

    static func filled(_ url: URL, copy: LDZNetCheckpoint.Copy = .training, fusion: String, seed: Int) throws -> Filled {
        let file = try openTensorSource(url)
        let initial = try LDZNetCheckpoint(source: file, copy: copy, sidecarOf: url)
            .initialFusionParameters(fusion: fusion, seed: UInt64(bitPattern: Int64(seed)))
        let source = initial.isEmpty ? file : try TensorSourceUnion([file, TensorTree(initial)])
        return Filled(checkpoint: try LDZNetCheckpoint(source: source, copy: copy, sidecarOf: url), initial: initial)
    }

    /// `--init random` and `--init sd` draw every tensor by PyTorch's default schemes except the
    /// filled-in fusion parameters, which keep their strategy's values: the strategy knows how its
    /// parameters start (the FiLM gate at zero), the generic schemes may not (and a gate has none).
    static func tree(_ initialisation: TrainingConfiguration.Initialisation, file: Filled, config: UNetConfig,
                     fusion: String, seed: Int, stableDiffusion: String?) throws -> TensorTree {
        let weights = try file.trainingCopy()
        let shapes = weights.tensors.mapValues(\.shape)
        func keepingInitialFusion(_ tree: TensorTree) -> TensorTree {
            var tree = tree
            for (key, value) in file.initial { tree[key] = value }
            return tree
        }
        switch initialisation {
        case .weightsFile:
            return weights
        case .random:
            let generic = shapes.filter { file.initial[$0.key] == nil }
            return keepingInitialFusion(try ParameterInitialisation.random(shapes: generic, seed: UInt64(bitPattern: Int64(seed))))
        case .stableDiffusion:
            guard let stableDiffusion else {
                throw BatchError("--init sd: no UNetFeatures or VAEEncode node feeds the trained ZNet, so there are no SD weights to start from")
            }
            do {
                let (unet, sdConfig) = try StableDiffusionWeights(url: URL(fileURLWithPath: stableDiffusion)).unet()
                let generic = shapes.filter { file.initial[$0.key] == nil }
                return keepingInitialFusion(try ParameterInitialisation.zNetFromStableDiffusion(
                    unet, config: sdConfig, zNetShapes: generic, seed: UInt64(bitPattern: Int64(seed))))
            } catch {
                throw BatchError("--init sd (\(stableDiffusion)): \(error)")
            }
        case let .checkpoint(path, copy):
            let loaded: [String: Tensor]
            do {
                // Filled as the weights file is: a checkpoint of another fusion starts this one alike.
                loaded = try filled(URL(fileURLWithPath: path), copy: copy, fusion: fusion, seed: seed).checkpoint
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
