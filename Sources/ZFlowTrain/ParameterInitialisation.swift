import Foundation
import ZFlowModels
import ZFlowTensor

/// A shape tree that a parameter initialisation cannot fill, naming the key and what is wrong.
public enum InitialisationError: Error, CustomStringConvertible, Equatable, Sendable {
    case noDefaultScheme(key: String, shape: [Int])
    case biasWithoutWeight(key: String)
    case missingStableDiffusionKey(key: String)
    case shapeMismatch(key: String, shape: [Int], stableDiffusionShape: [Int])

    public var description: String {
        switch self {
        case let .noDefaultScheme(key, shape):
            return "'\(key)' (shape \(shape)) is not a norm, linear or convolution weight or bias, "
                + "nor a positional embedding: no default initialisation"
        case let .biasWithoutWeight(key):
            return "'\(key)' is a bias whose module has no weight in the tree: its fan-in is unknown"
        case let .missingStableDiffusionKey(key):
            return "the Stable Diffusion UNet has '\(key)', the ZNet shape tree does not (is the tree a ZNet's?)"
        case let .shapeMismatch(key, shape, sdShape):
            return "'\(key)' has shape \(shape) in the ZNet tree, \(sdShape) in the Stable Diffusion UNet"
        }
    }
}

/// Parameter trees to start training from, keyed by checkpoint key (`model.diffusion_model.*` for
/// ZNet): random with PyTorch's default schemes, copies of a loaded model's parameters, or ZNet
/// the paper's way (from the SD v1 UNet). Every tensor returned is owned (fresh storage).
public enum ParameterInitialisation {
    /// Keys the reference zero-initialises. `tools/ldznet_reference.py` builds on diffusers, which
    /// zero-initialises nothing; the official LD-ZNet code builds on CompVis `ldm`, whose
    /// `zero_module` zeroes (weight and bias) every spatial transformer's `proj_out`, every ResBlock's
    /// last convolution `out_layers.3`, and the UNet's output convolution `out.2`. ZFlow follows
    /// `ldm`. The head after `out.2` (`final.*`) and the fusion parts are PyTorch defaults there.
    public static func isZeroInitialised(_ key: String) -> Bool {
        let parts = key.split(separator: ".")
        return parts.contains("proj_out")
            || zip(parts, parts.dropFirst()).contains { ($0 == "out_layers" && $1 == "3") || ($0 == "out" && $1 == "2") }
    }

    /// Random tensors of `shapes` with PyTorch's defaults: linear and convolution (also 1-d and
    /// transposed) weights kaiming-uniform with a = sqrt(5), that is uniform(-b, b) with
    /// b = 1/sqrt(fan_in), fan_in = shape[1] * kernel size as torch computes it; their biases
    /// uniform(-b, b) with the weight's fan_in; norm weights (1-d) one, their biases zero;
    /// `positional_embedding` randn / sqrt(C) as the reference's `AttentionPool2d`; zeros where
    /// `isZeroInitialised`. Each key draws from its own generator seeded by `seed` and the key,
    /// so a tensor does not depend on which other keys the tree holds (not torch's stream order).
    public static func random(shapes: [String: [Int]], seed: UInt64) throws -> TensorTree {
        var tensors: [String: Tensor] = [:]
        for (key, shape) in shapes {
            tensors[key] = try randomTensor(key, shape: shape, shapes: shapes, seed: seed)
        }
        return TensorTree(tensors)
    }

    /// A tree of copies (owned storage) of `parameters`, e.g. `ZNet.parameters` or
    /// `UNet2DConditionModel.parameters` of a model loaded from any checkpoint ZFlow reads.
    public static func copies(of parameters: [String: Tensor]) -> TensorTree {
        TensorTree(parameters.mapValues { $0.copied() })
    }

    /// ZNet the paper's way: every key of `zNetShapes` that the SD v1 UNet `unet` (either layout;
    /// `config` from `StableDiffusionWeights.unet()`) has under its CompVis name
    /// `model.diffusion_model.*` is the SD tensor, `out.2` sliced to ZNet's output channels (the
    /// first ones); every other key (attn3, norm_sd, the pools, the head `final.*`, concat_proj)
    /// is `random(shapes:seed:)`'s tensor for that key. Every SD UNet key must be in the tree.
    public static func zNetFromStableDiffusion(_ unet: ComponentWeights, config: UNetConfig,
                                               zNetShapes: [String: [Int]], seed: UInt64) throws -> TensorTree {
        let table = compVisUNetTable(config)
        let sd = try unet.load { reader in
            _ = try UNet2DConditionModel(reader, config: config)
            return reader.takenTensors(keyedBy: table.storedKey)
        }
        if let missing = sd.keys.sorted().first(where: { zNetShapes[$0] == nil }) {
            throw InitialisationError.missingStableDiffusionKey(key: missing)
        }
        var tensors: [String: Tensor] = [:]
        for (key, shape) in zNetShapes {
            guard let weight = sd[key] else {
                tensors[key] = try randomTensor(key, shape: shape, shapes: zNetShapes, seed: seed)
                continue
            }
            let sliced = key.hasPrefix(table.storedPrefix + "out.2.") && shape.count == weight.rank
                && shape[0] < weight.shape[0]
            let rows = sliced ? weight.slice(0..<shape[0]) : weight
            guard rows.count == Tensor.elementCount(shape) else {
                throw InitialisationError.shapeMismatch(key: key, shape: shape, stableDiffusionShape: weight.shape)
            }
            // The UNet reads some weights in another shape ([O, I] for a stored [O, I, 1, 1]).
            tensors[key] = try rows.copied().reshaped(shape)
        }
        return TensorTree(tensors)
    }

    private static func randomTensor(_ key: String, shape: [Int], shapes: [String: [Int]], seed: UInt64) throws -> Tensor {
        let leaf = key.split(separator: ".").last ?? ""
        if leaf == "weight" && shape.count == 1 { return Tensor(repeating: 1, shape: shape) }
        if isZeroInitialised(key) && (leaf == "weight" || leaf == "bias") { return Tensor(zeros: shape) }
        var generator = TorchGenerator(seed: keySeed(key, seed: seed))
        switch leaf {
        case "positional_embedding" where shape.count == 2:
            let scale = Float(shape[0]).squareRoot()
            return Tensor(shape: shape, scalars: generator.randn(shape).scalars.map { $0 / scale })
        case "weight" where shape.count >= 2:
            return generator.uniform(shape, bound: 1 / Float(fanIn(shape)).squareRoot())
        case "bias" where shape.count == 1:
            let weightKey = key.dropLast("bias".count) + "weight"
            guard let weightShape = shapes[String(weightKey)] else { throw InitialisationError.biasWithoutWeight(key: key) }
            if weightShape.count == 1 { return Tensor(zeros: shape) }  // a norm's
            return generator.uniform(shape, bound: 1 / Float(fanIn(weightShape)).squareRoot())
        default:
            throw InitialisationError.noDefaultScheme(key: key, shape: shape)
        }
    }

    /// torch's `_calculate_fan_in_and_fan_out`: dimension 1 times the receptive field (for a
    /// transposed convolution, whose weight is [in, out, k, k], that is out * k * k, as in torch).
    private static func fanIn(_ shape: [Int]) -> Int {
        shape.dropFirst().reduce(1, *)
    }

    /// A 32-bit seed (the generator keeps the low 32 bits) from `seed` and FNV-1a of `key`.
    private static func keySeed(_ key: String, seed: UInt64) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325 ^ seed
        for byte in key.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01B3 }
        return (hash >> 32) ^ (hash & 0xFFFF_FFFF)
    }
}
