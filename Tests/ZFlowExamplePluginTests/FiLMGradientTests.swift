import Foundation
import Testing
@testable import ZFlowExamplePluginSources
import ZFlowIO
import ZFlowModels
import ZFlowTensor
import ZFlowTrain

/// The gradients of examples/plugin's FiLM parameters on the tiny ZNet, against central finite
/// differences (there is no PyTorch reference for a plugin): its hook is built from ops the
/// tape records, and this checks that they give its parameters their true gradients.
@Suite struct FiLMGradientTests {
    static let tinyZNet = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("models/tiny/ldznet-tiny.safetensors")

    @Test func filmParameterGradientsMatchFiniteDifferences() throws {
        let registry = FusionRegistry(CrossAttentionFusion.self, ConcatFusion.self, NoFusion.self, FiLMFusion.self)
        let file = try openTensorSource(Self.tinyZNet)
        let checkpoint = try LDZNetCheckpoint(source: file, copy: .training, sidecarOf: Self.tinyZNet)
        var film = try checkpoint.initialFusionParameters(fusion: FiLMFusion.name, seed: 3, registry: registry)
        #expect(film.count == 25)
        // Open the gates (initialised closed, which leaves scale and shift without a gradient).
        var generator = TorchGenerator(seed: 11)
        for key in film.keys.sorted() where key.hasSuffix(".film.gate") { film[key] = generator.uniform(film[key]!.shape, bound: 1) }
        let source = try TensorSourceUnion([file, TensorTree(film)])
        let config = try LDZNetCheckpoint(source: source, copy: .training, sidecarOf: Self.tinyZNet)
            .loadZNet(fusion: FiLMFusion.name, registry: registry).znet.unet.config
        let base = try TensorTree(source: source, prefix: "model.diffusion_model.")

        // ZNet's inputs and a fixed random weighting r of its logits: objective sum(r * logits).
        let latent = generator.randn([1, 4, 8, 8]), text = generator.randn([77, config.crossAttentionDim])
        var taps: [Int: Tensor] = [:]
        for (tap, channels) in [(6, 16), (7, 32), (8, 16), (9, 16), (10, 16)] { taps[tap] = generator.randn([1, channels, 2, 2]) }
        let weighting = generator.randn([1, 1, 64, 64])
        func model(_ tree: TensorTree) throws -> ZNet {
            try LDZNetCheckpoint(source: tree, copy: .training).loadZNet(config: config, fusion: FiLMFusion.name,
                                                                         registry: registry).znet
        }
        /// The objective in Double, and the f32 magnitude it is summed from.
        func objective(_ tree: TensorTree) throws -> (value: Double, magnitude: Double) {
            let logits = try model(tree)(latent, context: text, sdFeatures: taps).scalars
            let terms = zip(logits, weighting.scalars).map { Double($0) * Double($1) }
            return (terms.reduce(0, +), terms.reduce(0) { $0 + abs($1) })
        }

        let znet = try model(base)
        let tape = GradientTape()
        let total = try tape.record { sum(try mul(znet(latent, context: text, sdFeatures: taps), weighting)) }
        let gradients = try tape.gradient(of: total, withRespectTo: film.keys.reduce(into: [:]) { $0[$1] = base[$1]! })
        let magnitude = try objective(base).magnitude

        let epsilon: Float = 0.1
        for name in ["film.gate", "film.scale.weight", "film.scale.bias", "film.shift.weight", "film.shift.bias"] {
            // The element with the largest gradient of this tensor over the five positions.
            var best: (key: String, index: Int, gradient: Float) = ("", 0, 0)
            for key in film.keys.sorted() where key.hasSuffix(".\(name)") {
                let gradient = try #require(gradients[key], "\(key) got no gradient").scalars
                for (index, value) in gradient.enumerated() where abs(value) > abs(best.gradient) { best = (key, index, value) }
            }
            var sides: [Double] = []
            for sign: Float in [1, -1] {
                var values = base[best.key]!.scalars
                values[best.index] += sign * epsilon
                var perturbed = base
                perturbed[best.key] = Tensor(shape: base[best.key]!.shape, scalars: values)
                sides.append(try objective(perturbed).value)
            }
            let difference = (sides[0] - sides[1]) / Double(2 * epsilon)
            // Rounding: each f32 term of the objective is off by up to 64 ulps of its size (the
            // forward's depth; generous), independently, so their sum by about sqrt(N) times that
            // for a typical term (magnitude / N); over 2 epsilon. Truncation, O(epsilon^2): within
            // 2% of the gradient at this epsilon (5.6% measured at 0.2, so about 1.4% here).
            let terms = Double(weighting.count)
            let rounding = 64 * Double(Float.ulpOfOne) / 2 * magnitude / terms.squareRoot() / Double(2 * epsilon)
            let tolerance = 0.02 * abs(Double(best.gradient)) + rounding
            // Above the rounding bound, so that a missing or sign-flipped gradient cannot pass.
            #expect(abs(Double(best.gradient)) > rounding, "\(best.key): gradient \(best.gradient) below the check's resolution \(rounding)")
            #expect(abs(difference - Double(best.gradient)) <= tolerance,
                    "\(best.key)[\(best.index)]: gradient \(best.gradient), finite difference \(difference), tolerance \(tolerance)")
        }
    }
}
