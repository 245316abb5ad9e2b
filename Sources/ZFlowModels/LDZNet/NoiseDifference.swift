import ZFlowTensor

/// LD-ZNet's zero-shot map (the paper's Fig. 1; spec "The idea"): no segmentation weights, only
/// the SD UNet. For each seed the noise is `TorchGenerator(seed).randn(latent.shape)` (what
/// `torch.randn` gives with `torch.Generator().manual_seed(seed)`), used for every timestep;
/// for each (seed, t) pair `z_t = NoiseSchedule.addNoise(z, noise, t)` and the map is the
/// per-pixel L2 norm over channels of `eps(z_t, t, text) - eps(z_t, t, "")`. The maps are averaged
/// over all pairs. Matches `noise_difference` of tools/make_tiny_models.py (one seed, one t).
public struct NoiseDifference: Sendable {
    public let unet: UNet2DConditionModel
    public let schedule: NoiseSchedule

    public init(unet: UNet2DConditionModel, schedule: NoiseSchedule = .stableDiffusion) {
        self.unet = unet
        self.schedule = schedule
    }

    /// The averaged maps at latent resolution, [B, 1, h, w], for the clean latents `latent`
    /// [B, 4, h, w], text `context` [S, D] or [1, S, D] (shared by the batch) or [B, S, D] (one per
    /// sample) and `emptyContext` (the encoding of "") [S, D]. Each sample's map is, bit for bit,
    /// the one it gets alone: every sample gets the same noise per seed (`randn([1, 4, h, w])`),
    /// and the UNet runs one sample at a time, because the BLAS libraries' GEMMs round a row by
    /// where it falls in a batch's tiles (BatchModelTests), which a batched call would show.
    public func latentMap(latent: Tensor, context: Tensor, emptyContext: Tensor,
                          timesteps: [Int], seeds: [UInt64]) throws -> Tensor {
        guard !timesteps.isEmpty, !seeds.isEmpty else {
            throw ShapeError("NoiseDifference", "needs at least one timestep and one seed (got \(timesteps.count) "
                             + "timesteps, \(seeds.count) seeds)")
        }
        guard latent.rank == 4, latent.shape[0] >= 1 else {
            throw ShapeError("NoiseDifference", "latent \(latent.shape), expected [B, C, h, w]")
        }
        let batch = latent.shape[0]
        guard context.rank == 2 || (context.rank == 3 && (context.shape[0] == 1 || context.shape[0] == batch)) else {
            throw ShapeError("NoiseDifference", "text \(context.shape) for latent \(latent.shape): give one text, "
                             + "[S, D] or [1, S, D], for the batch or one per sample, [\(batch), S, D]")
        }
        let maps = try (0..<batch).map { sample in
            let text = context.rank == 3 && context.shape[0] == batch ? context.slice(sample..<sample + 1) : context
            return try sampleMap(latent: latent.slice(sample..<sample + 1), context: text, emptyContext: emptyContext,
                                 timesteps: timesteps, seeds: seeds)
        }
        return batch == 1 ? maps[0] : try concat(maps, axis: 0)
    }

    /// The averaged map [1, 1, h, w] of one sample's latent [1, 4, h, w].
    private func sampleMap(latent: Tensor, context: Tensor, emptyContext: Tensor,
                           timesteps: [Int], seeds: [UInt64]) throws -> Tensor {
        let pixels = latent.shape[2] * latent.shape[3]
        let sum = Tensor(zeros: [1, 1, latent.shape[2], latent.shape[3]])
        for seed in seeds {
            var generator = TorchGenerator(seed: seed)
            let noise = generator.randn(latent.shape)
            for t in timesteps {
                let noisy = try schedule.addNoise(latent, noise: noise, timestep: t)
                let withText = try unet(noisy, timestep: Float(t), context: context).eps
                let withoutText = try unet(noisy, timestep: Float(t), context: emptyContext).eps
                guard let withText, let withoutText else { throw ShapeError("NoiseDifference", "the UNet returned no eps") }
                let difference = try sub(withText, withoutText)
                let d = difference.pointer, out = sum.mutablePointer
                for pixel in 0..<pixels {
                    var squares: Float = 0
                    for channel in 0..<difference.shape[1] {
                        let value = d[channel * pixels + pixel]
                        squares += value * value
                    }
                    out[pixel] += squares.squareRoot()
                }
            }
        }
        return scaled(sum, by: 1 / Float(seeds.count * timesteps.count))
    }

    /// The averaged maps at image resolution, [B, 1, 8h, 8w]: `latentMap` upsampled x8 with
    /// torch-exact bicubic (`F.interpolate(mode="bicubic", align_corners=False)`), not clamped,
    /// so values near sharp edges can dip slightly below 0.
    public func callAsFunction(latent: Tensor, context: Tensor, emptyContext: Tensor,
                               timesteps: [Int], seeds: [UInt64]) throws -> Tensor {
        let map = try latentMap(latent: latent, context: context, emptyContext: emptyContext,
                                timesteps: timesteps, seeds: seeds)
        return try resizeBicubic(map, height: 8 * map.shape[2], width: 8 * map.shape[3])
    }
}
