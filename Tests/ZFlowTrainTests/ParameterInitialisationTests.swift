import Foundation
import Testing
import ZFlowIO
import ZFlowModels
import ZFlowTensor
import ZFlowTrain

/// The three initialisations of `ParameterInitialisation`, on the bundled tiny models.
@Suite struct ParameterInitialisationTests {
    static let tiny = LDZNetCheckpointRoundTripTests.tiny
    static let zNetPrefix = "model.diffusion_model."

    /// The stored shapes of the tiny LD-ZNet's training copy: a full ZNet shape tree.
    static func zNetShapes() throws -> [String: [Int]] {
        let source = try openTensorSource(tiny.appendingPathComponent("ldznet-tiny.safetensors"))
        return Dictionary(uniqueKeysWithValues: source.keys.filter { $0.hasPrefix(zNetPrefix) }.map { ($0, source.shape(of: $0)!) })
    }

    // MARK: 1. Random, PyTorch's default schemes

    @Test func eachKindOfParameterGetsTorchsDefaultScheme() throws {
        let shapes: [String: [Int]] = [
            "conv.weight": [64, 16, 3, 3], "conv.bias": [64],            // fan_in 144
            "linear.weight": [256, 48], "linear.bias": [256],            // fan_in 48
            "up.weight": [1, 1, 2, 2], "up.bias": [1],                   // transposed: fan_in out * 2 * 2 = 4
            "norm.weight": [32], "norm.bias": [32],
            "pool.positional_embedding": [64, 145],
            "block.proj_out.weight": [16, 16, 1, 1], "block.proj_out.bias": [16],
            "res.out_layers.3.weight": [16, 16, 3, 3], "res.out_layers.3.bias": [16],
            "model.diffusion_model.out.2.weight": [1, 16, 3, 3], "model.diffusion_model.out.2.bias": [1],
        ]
        let tree = try ParameterInitialisation.random(shapes: shapes, seed: 3)
        #expect(Set(tree.keys) == Set(shapes.keys))
        for (key, shape) in shapes { #expect(tree[key]!.shape == shape, "\(key)") }
        expectUniform(tree["conv.weight"]!, bound: 1 / 12, key: "conv.weight")
        expectUniform(tree["linear.weight"]!, bound: 1 / Float(48).squareRoot(), key: "linear.weight")
        expectWithin(tree["conv.bias"]!, bound: 1 / 12)
        expectWithin(tree["linear.bias"]!, bound: 1 / Float(48).squareRoot())
        expectWithin(tree["up.weight"]!, bound: 0.5)
        #expect(tree["up.weight"]!.scalars.contains { abs($0) > 0.25 }, "a transposed convolution's fan_in is out * k * k")
        #expect(tree["norm.weight"]!.scalars.allSatisfy { $0 == 1 })
        #expect(tree["norm.bias"]!.scalars.allSatisfy { $0 == 0 })
        for key in shapes.keys where key.contains("proj_out") || key.contains("out_layers.3") || key.contains("out.2") {
            #expect(tree[key]!.scalars.allSatisfy { $0 == 0 }, "\(key) is zero-initialised")
        }
        // randn / sqrt(C): mean 0, variance 1/64 over 9280 values.
        let embedding = tree["pool.positional_embedding"]!.scalars.map(Double.init)
        let (mean, variance) = moments(embedding)
        #expect(abs(mean) < 6 * (1.0 / 64 / Double(embedding.count)).squareRoot())
        #expect(abs(variance - 1.0 / 64) < 0.1 / 64)
        #expect(embedding.contains { abs($0) > 3 / 8 }, "normal tails, not a uniform")
    }

    @Test func aSeedGivesTheSameTensorsAndAnotherSeedOthers() throws {
        let shapes = try Self.zNetShapes()
        let first = try ParameterInitialisation.random(shapes: shapes, seed: 11)
        let again = try ParameterInitialisation.random(shapes: shapes, seed: 11)
        let other = try ParameterInitialisation.random(shapes: shapes, seed: 12)
        let key = Self.zNetPrefix + "input_blocks.1.0.in_layers.2.weight"
        for name in first.keys { #expect(first[name]!.scalars == again[name]!.scalars, "\(name)") }
        #expect(first[key]!.scalars != other[key]!.scalars)
        // A key's tensor does not depend on the rest of the tree.
        let alone = try ParameterInitialisation.random(shapes: [key: shapes[key]!, key.replacingOccurrences(of: "weight", with: "bias"): [16]],
                                                       seed: 11)
        #expect(alone[key]!.scalars == first[key]!.scalars)
    }

    @Test func theZeroInitialisedKeysOfZNetAreExactlyLdmsZeroModules() throws {
        let zeroed = try Self.zNetShapes().keys.filter(ParameterInitialisation.isZeroInitialised).sorted()
        #expect(!zeroed.isEmpty)
        for key in zeroed {
            let module = key.dropFirst(Self.zNetPrefix.count)
            #expect(module.hasPrefix("out.2.") || module.contains(".proj_out.") || module.contains(".out_layers.3."), "\(key)")
        }
        #expect(zeroed.contains(Self.zNetPrefix + "out.2.weight"))
        #expect(!zeroed.contains { $0.contains("final.") || $0.contains("attn3") || $0.contains("to_out") })
    }

    @Test func aKeyWithoutADefaultSchemeIsNamed() {
        #expect(throws: InitialisationError.noDefaultScheme(key: "blocks.0.scale", shape: [8])) {
            try ParameterInitialisation.random(shapes: ["blocks.0.scale": [8]], seed: 0)
        }
        #expect(throws: InitialisationError.biasWithoutWeight(key: "head.bias")) {
            try ParameterInitialisation.random(shapes: ["head.bias": [8]], seed: 0)
        }
    }

    // MARK: 2. From a checkpoint ZFlow reads

    @Test func copiesOfALoadedModelsParametersAreOwnedAndEqual() throws {
        let znet = try LDZNetCheckpoint(url: Self.tiny.appendingPathComponent("ldznet-tiny.safetensors"))
            .loadZNet(fusion: "cross_attention").znet
        let tree = ParameterInitialisation.copies(of: znet.parameters)
        #expect(Set(tree.keys) == Set(znet.parameters.keys))
        for (key, tensor) in znet.parameters {
            #expect(tree[key]!.shape == tensor.shape && tree[key]!.scalars == tensor.scalars, "\(key)")
            #expect(tree[key]!.storage !== tensor.storage, "\(key) is a copy")
        }
    }

    // MARK: 3. The paper's way

    @Test func zNetFromTheStableDiffusionUNet() throws {
        let sdURL = Self.tiny.appendingPathComponent("sd-v1-tiny.safetensors")
        let (unet, sdConfig) = try StableDiffusionWeights(url: sdURL).unet()
        let shapes = try Self.zNetShapes()
        let tree = try ParameterInitialisation.zNetFromStableDiffusion(unet, config: sdConfig, zNetShapes: shapes, seed: 5)
        #expect(Set(tree.keys) == Set(shapes.keys), "every ZNet key is initialised")
        let sd = try openTensorSource(sdURL)
        let random = try ParameterInitialisation.random(shapes: shapes, seed: 5)
        var fromSD = 0
        for key in tree.keys {
            let value = tree[key]!
            #expect(value.shape == shapes[key]!, "\(key)")
            guard let stored = sd.shape(of: key) else {
                #expect(value.scalars == random[key]!.scalars, "\(key) follows the random scheme")
                continue
            }
            fromSD += 1
            let expected = try sd.tensor(key)
            if key.hasPrefix(Self.zNetPrefix + "out.2.") {
                #expect(stored[0] == 4 && value.shape[0] == 1)
                #expect(value.scalars == expected.slice(0..<1).copied().scalars, "\(key) is SD's first output channel")
            } else {
                #expect(value.scalars == expected.scalars, "\(key) is SD's, bit for bit")
            }
        }
        #expect(fromSD == sd.keys.filter { $0.hasPrefix(Self.zNetPrefix) }.count, "every SD UNet tensor is used")
        for part in ["attn3", "norm_sd", "attentionpool2D", "final."] {
            #expect(tree.keys.contains { $0.contains(part) && sd.shape(of: $0) == nil }, "\(part) is random")
        }

        // A ZNet built from the result runs.
        var zNetConfig = sdConfig
        zNetConfig.outChannels = 1
        let znet = try LDZNetCheckpoint(source: tree, copy: .training)
            .loadZNet(config: zNetConfig, fusion: "cross_attention").znet
        var generator = TorchGenerator(seed: 1)
        let taps = try Dictionary(uniqueKeysWithValues: fusionPositions(zNetConfig).map { position in
            let side = position.tap == 7 ? 1 : 2
            return (position.tap, generator.randn([1, position.channels, side, side]))
        })
        let logits = try znet(generator.randn([1, 4, 8, 8]), context: generator.randn([77, 24]), sdFeatures: taps)
        #expect(logits.shape == [1, 1, 64, 64])
        #expect(logits.scalars.allSatisfy { $0.isFinite })
    }

    @Test func aShapeTreeThatIsNotZNetsIsNamed() throws {
        let (unet, config) = try StableDiffusionWeights(url: Self.tiny.appendingPathComponent("sd-v1-tiny.safetensors")).unet()
        var shapes = try Self.zNetShapes()
        let key = Self.zNetPrefix + "input_blocks.1.0.in_layers.2.weight"
        shapes[key] = [16, 16, 5, 5]
        #expect(throws: InitialisationError.shapeMismatch(key: key, shape: [16, 16, 5, 5], stableDiffusionShape: [16, 16, 3, 3])) {
            try ParameterInitialisation.zNetFromStableDiffusion(unet, config: config, zNetShapes: shapes, seed: 0)
        }
        shapes[key] = nil
        #expect(throws: InitialisationError.missingStableDiffusionKey(key: key)) {
            try ParameterInitialisation.zNetFromStableDiffusion(unet, config: config, zNetShapes: shapes, seed: 0)
        }
    }

    // MARK: Statistics

    /// Within [-bound, bound], reaching near both ends, with a uniform's mean 0 and variance
    /// bound^2 / 3 (six standard errors).
    private func expectUniform(_ tensor: Tensor, bound: Float, key: String) {
        expectWithin(tensor, bound: bound)
        let values = tensor.scalars.map(Double.init)
        let b = Double(bound), n = Double(values.count)
        let (mean, variance) = moments(values)
        #expect(abs(mean) < 6 * b / (3 * n).squareRoot(), "\(key) mean \(mean)")
        #expect(abs(variance - b * b / 3) < 6 * b * b * (4 / (45 * n)).squareRoot(), "\(key) variance \(variance)")
        #expect(values.min()! < -0.95 * b && values.max()! > 0.95 * b, "\(key) spans the bound")
    }

    private func expectWithin(_ tensor: Tensor, bound: Float) {
        #expect(tensor.scalars.allSatisfy { abs($0) <= bound }, "within ±\(bound)")
        #expect(tensor.scalars.contains { $0 != 0 })
    }

    private func moments(_ values: [Double]) -> (mean: Double, variance: Double) {
        let mean = values.reduce(0, +) / Double(values.count)
        return (mean, values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count))
    }
}
