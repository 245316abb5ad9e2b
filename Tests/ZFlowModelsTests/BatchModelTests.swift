import Foundation
import Testing
import ZFlowIO
import ZFlowModels
import ZFlowTensor
import ZFlowTestSupport

/// Batches through the bundled tiny models (docs/training.md "Batches"):
/// - the forward of a batch is the stacked single-sample forwards, on each kernel backend forced:
///   bit for bit on ZFlow's own kernels; within 2e-6 of the sample's max |value| on OpenBLAS and
///   oneDNN, whose GEMMs round a row by where it falls in the batch's tiles (measured up to 1.4e-6
///   in the UNet's deepest taps);
/// - the gradient of the mean loss over a batch of B is the mean of the B single-sample gradients,
///   per parameter within t x max |mean|, t = max(1e-5, 4 x PyTorch's own Float32 error on that
///   tensor): both sides are Float32 sums in different orders, and a gradient that nearly cancels
///   (the key bias of a softmax attention, whose exact gradient is 0; small gradients far from
///   the loss) carries the rounding PyTorch's Float32 autograd shows on it, on each side.
@Suite struct BatchModelTests {
    private static func random(_ shape: [Int], seed: UInt64, in range: ClosedRange<Float> = -1...1) -> Tensor {
        seededRandom(shape, seed: seed, in: range)
    }

    static func tinyUNet() throws -> UNet2DConditionModel {
        let (weights, config) = try StableDiffusionWeights(url: ModelGradientTests.tinyFile("sd-v1-tiny.safetensors")).unet()
        return try UNet2DConditionModel(weights: weights, config: config)
    }

    static func tinyVAEEncoder() throws -> VAEEncoder {
        let (weights, config) = try StableDiffusionWeights(url: ModelGradientTests.tinyFile("sd-v1-tiny.safetensors")).vae()
        return try VAEEncoder(weights: weights, config: config)
    }

    /// One LD-ZNet sample: the gradient fixture's inputs, or random ones of the same shapes.
    struct LDZNetSample {
        var latent: Tensor, context: Tensor, mask: Tensor
        var taps: [Int: Tensor]
    }

    static func ldzNetSamples() throws -> [LDZNetSample] {
        let fixture = try ModelGradientFixture("ldznet_cross_attention")
        let taps = try Dictionary(uniqueKeysWithValues: ldzNetTaps.map { ($0, try fixture.input("tap\($0)")) })
        let first = LDZNetSample(latent: try fixture.input("z"), context: try fixture.input("context"),
                                 mask: try fixture.input("mask"), taps: taps)
        let mask = random(first.mask.shape, seed: 3, in: 0...1)
        let second = LDZNetSample(
            latent: random(first.latent.shape, seed: 1), context: random(first.context.shape, seed: 2),
            mask: Tensor(shape: mask.shape, scalars: mask.scalars.map { $0 > 0.5 ? 1 : 0 }),
            taps: taps.mapValues { random($0.shape, seed: UInt64($0.count)) })
        return [first, second]
    }

    /// One-sample tensors [1, ...] joined into a batch [B, ...].
    static func batch(_ samples: [Tensor]) throws -> Tensor { try concat(samples, axis: 0) }

    /// ZNet on `samples` as one batch (each sample its own text and taps).
    static func logits(_ model: ZNet, _ samples: [LDZNetSample]) throws -> Tensor {
        var taps: [Int: Tensor] = [:]
        for tap in samples[0].taps.keys { taps[tap] = try batch(samples.map { $0.taps[tap]! }) }
        return try model(batch(samples.map(\.latent)), context: stacked(samples.map(\.context)),
                         sdFeatures: model.requiredTaps.isEmpty ? [:] : taps)
    }

    /// Runs `body` with each available kernel backend forced.
    private func onEachBackend(_ body: (KernelBackend) throws -> Void) throws {
        for backend in KernelBackend.allCases where backend.isAvailable {
            try KernelTuner.$scopedBackend.withValue(backend) { try body(backend) }
        }
    }

    /// Sample `index` of `batch` against `single` (a one-sample tensor), computed on `backend`: bit
    /// for bit on ZFlow's own kernels, within 2e-6 of max |single| on the libraries'.
    private func expectSample(_ index: Int, of batch: Tensor, matches single: Tensor, _ label: String,
                              on backend: KernelBackend) throws {
        let sample = try batch.slice(index..<index + 1).reshaped(single.shape)
        let peak = single.buffer.reduce(Float(0)) { max($0, abs($1)) }
        let report = compare(sample, single, atol: backend == .own ? 0 : 2e-6 * peak, rtol: 0, name: "\(label) sample \(index) (\(backend))")
        #expect(backend == .own ? bitwiseEqual(sample, single) : report.passes, "\(report)")
    }

    /// The gradients of `batchLoss` (the mean over B samples) against the mean of the gradients of
    /// `singleLosses`, per parameter: within 1e-5 of max |mean|.
    private func expectMeanOfSingleGradients(_ parameters: [String: Tensor], label: String, float32Errors: [String: Float],
                                             batchLoss: () throws -> Tensor, singleLosses: [() throws -> Tensor]) throws {
        func gradients(_ loss: () throws -> Tensor) throws -> [String: Tensor] {
            let tape = GradientTape()
            let value = try tape.record(loss)
            return try tape.gradient(of: value, withRespectTo: parameters)
        }
        let batch = try gradients(batchLoss)
        let singles = try singleLosses.map { try gradients($0) }
        #expect(Set(batch.keys) == Set(singles.flatMap(\.keys)), "\(label): the batch and the samples train other parameters")
        var worst: (ratio: Float, key: String) = (0, ""), beyond: [String] = []
        for (key, gradient) in batch.sorted(by: { $0.key < $1.key }) {
            var total: Tensor?
            for single in singles { if let g = single[key] { total = try total.map { try add($0, g) } ?? g } }
            let mean = scaled(try #require(total), by: 1 / Float(singles.count))
            let peak = mean.buffer.reduce(Float(0)) { max($0, abs($1)) }
            let tolerance = max(1e-5, 4 * (float32Errors[key] ?? 0))
            let report = compare(gradient, mean, atol: tolerance * peak, rtol: 0, name: "\(label) \(key)")
            #expect(report.passes, "\(report) (PyTorch Float32: \(float32Errors[key] ?? 0))")
            if report.relativeToPeak > worst.ratio && report.relativeToPeak <= 1e-5 { worst = (report.relativeToPeak, key) }
            if report.relativeToPeak > 1e-5 {
                beyond.append("\(key): \(report.relativeToPeak) (PyTorch's Float32 autograd: \(float32Errors[key] ?? 0))")
            }
        }
        print("\(label): \(batch.count) gradients, \(batch.count - beyond.count) within 1e-5 of max |mean|, worst \(worst.ratio) "
              + "(\(worst.key)); beyond 1e-5:\n  " + beyond.joined(separator: "\n  "))
    }

    @Test(arguments: ["cross_attention", "concat", "none"])
    func ldzNetBatch(fusion: String) throws {
        let model = try ModelGradientTests.znet(fusion)
        let samples = try Self.ldzNetSamples()
        try onEachBackend { backend in
            let batch = try Self.logits(model, samples)
            for (index, sample) in samples.enumerated() {
                try expectSample(index, of: batch, matches: try Self.logits(model, [sample]), "ldznet \(fusion)", on: backend)
            }
        }
        try expectMeanOfSingleGradients(
            model.parameters, label: "ldznet \(fusion) batch 2", float32Errors: ModelGradientFixture("ldznet_\(fusion)").float32Errors,
            batchLoss: { try bceWithLogits(Self.logits(model, samples), target: Self.batch(samples.map(\.mask))) },
            singleLosses: samples.map { sample in { try bceWithLogits(Self.logits(model, [sample]), target: sample.mask) } })
    }

    @Test func crossAttentionTakesPooledTokensPerSampleOrShared() throws {
        let model = try ModelGradientTests.znet("cross_attention")
        let samples = try Self.ldzNetSamples()
        let latents = try Self.batch(samples.map(\.latent))
        try onEachBackend { backend in
            var perSample: [Int: Tensor] = [:], shared: [Int: Tensor] = [:]
            for (tap, fusion) in model.fusions {
                let pool = try #require(fusion as? CrossAttentionFusion).pool
                perSample[tap] = try pool(Self.batch(samples.map { $0.taps[tap]! }))
                shared[tap] = try pool(samples[0].taps[tap]!).slice(0)
            }
            let raw = try Self.logits(model, samples)
            #expect(bitwiseEqual(try model(latents, context: stacked(samples.map(\.context)), sdFeatures: perSample), raw))
            // One set of pooled tokens [T, C] for the batch: each sample sees sample 0's SD features.
            let sharedBatch = try model(latents, context: samples[0].context, sdFeatures: shared)
            let single = try model(samples[1].latent, context: samples[0].context, sdFeatures: samples[0].taps)
            try expectSample(1, of: sharedBatch, matches: single, "shared pooled tokens and text", on: backend)
        }
    }

    @Test func sdUNetBatch() throws {
        let unet = try Self.tinyUNet()
        let fixture = try ModelGradientFixture("sd_unet")
        let latents = [try fixture.input("z_t"), Self.random([1, 4, 16, 16], seed: 4)]
        let contexts = [try fixture.input("context"), Self.random([77, 24], seed: 5)]
        let targets = [try fixture.input("target"), Self.random([1, 4, 16, 16], seed: 6)]
        let timesteps: [Float] = [400, 700]
        let latent = try Self.batch(latents), context = try stacked(contexts), target = try Self.batch(targets)
        let taps = Set(1...unet.tapCount)
        try onEachBackend { backend in
            let batch = try unet(latent, timesteps: timesteps, context: context, taps: taps)
            for index in 0..<2 {
                let single = try unet(latents[index], timestep: timesteps[index], context: contexts[index], taps: taps)
                try expectSample(index, of: try #require(batch.eps), matches: try #require(single.eps), "sd unet eps", on: backend)
                for tap in taps.sorted() {
                    try expectSample(index, of: try #require(batch.taps[tap]), matches: try #require(single.taps[tap]),
                                     "sd unet tap \(tap)", on: backend)
                }
            }
            // One timestep and one text for the whole batch.
            let common = try unet(latent, timestep: 400, context: contexts[0])
            try expectSample(1, of: try #require(common.eps),
                             matches: try #require(unet(latents[1], timestep: 400, context: contexts[0]).eps), "sd unet one t and text", on: backend)
        }
        try expectMeanOfSingleGradients(
            unet.parameters, label: "sd unet batch 2", float32Errors: fixture.float32Errors,
            batchLoss: { try mse(#require(unet(latent, timesteps: timesteps, context: context).eps), target) },
            singleLosses: (0..<2).map { index in
                { try mse(#require(unet(latents[index], timestep: timesteps[index], context: contexts[index]).eps), targets[index]) }
            })
    }

    @Test func vaeEncoderBatch() throws {
        let encoder = try Self.tinyVAEEncoder()
        let fixture = try ModelGradientFixture("vae_encoder")
        let images = [try fixture.input("image"), Self.random([1, 3, 64, 64], seed: 7)]
        let targets = [try fixture.input("target"), Self.random([1, 4, 8, 8], seed: 8)]
        let image = try Self.batch(images), target = try Self.batch(targets)
        try onEachBackend { backend in
            let batch = try encoder(image)
            for index in 0..<2 {
                let single = try encoder(images[index])
                try expectSample(index, of: batch.mean, matches: single.mean, "vae mean", on: backend)
                try expectSample(index, of: batch.logvar, matches: single.logvar, "vae logvar", on: backend)
            }
        }
        try expectMeanOfSingleGradients(
            encoder.parameters, label: "vae encoder batch 2", float32Errors: fixture.float32Errors,
            batchLoss: { try mse(encoder(image).mean, target) },
            singleLosses: (0..<2).map { index in { try mse(encoder(images[index]).mean, targets[index]) } })
    }

    @Test func clipBatch() throws {
        let url = try #require(Bundle.module.url(forResource: "Fixtures/clip/tiny/text_encoder", withExtension: nil))
        let encoder = try CLIPTextEncoder(folder: url)
        var generator = SeededGenerator(seed: 9)
        let prompts = (0..<3).map { _ in (0..<77).map { _ in Int.random(in: 0..<encoder.config.vocabSize, using: &generator) } }
        try onEachBackend { backend in
            let batch = try encoder(batch: prompts, penultimate: true)
            #expect(batch.lastHiddenState.shape == [3, 77, encoder.config.hiddenSize])
            for (index, ids) in prompts.enumerated() {
                let single = try encoder(ids, penultimate: true)
                try expectSample(index, of: batch.lastHiddenState, matches: try single.lastHiddenState.reshaped([1, 77, -1]),
                                 "clip last hidden state", on: backend)
                try expectSample(index, of: try #require(batch.penultimate), matches: try #require(single.penultimate).reshaped([1, 77, -1]),
                                 "clip penultimate", on: backend)
            }
        }
        #expect(throws: ShapeError.self) { try encoder(batch: [[1, 2], [3]]) }
    }

    @Test func batchShapesThatDoNotFitAreNamedErrors() throws {
        let unet = try Self.tinyUNet()
        let latent = Tensor(zeros: [2, 4, 16, 16])
        #expect(throws: ShapeError("UNet", "3 timesteps for latent [2, 4, 16, 16]: give one for the batch or one per sample")) {
            try unet(latent, timesteps: [1, 2, 3], context: Tensor(zeros: [77, 24]))
        }
        #expect(throws: ShapeError("UNet", "context [3, 77, 24], expected [S, 24] or [2, S, 24] for latent [2, 4, 16, 16]")) {
            try unet(latent, timestep: 1, context: Tensor(zeros: [3, 77, 24]))
        }
        let model = try ModelGradientTests.znet("concat")
        let samples = try Self.ldzNetSamples()
        #expect(throws: ShapeError.self) {  // one sample's taps for a batch of two
            try model(Self.batch(samples.map(\.latent)), context: samples[0].context, sdFeatures: samples[0].taps)
        }
    }
}
