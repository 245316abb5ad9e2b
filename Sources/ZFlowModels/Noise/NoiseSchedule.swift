import ZFlowTensor

/// The DDPM forward-noising schedule. This implementation matches diffusers'
/// `DDPMScheduler` (betas, `alphas_cumprod`, `add_noise`) value for value in
/// float32, including PyTorch's CPU `linspace` and its double-accumulated `cumprod`.
public struct NoiseSchedule: Sendable {
    public enum BetaSchedule: String, Sendable, CaseIterable {
        /// `linspace(sqrt(start), sqrt(end), steps)^2` (Stable Diffusion).
        case scaledLinear = "scaled_linear"
        /// `linspace(start, end, steps)`.
        case linear
    }

    public let betas: [Float]
    public let alphasCumprod: [Float]
    public var trainTimesteps: Int { betas.count }

    /// Stable Diffusion v1: scaled_linear betas from 0.00085 to 0.012 over 1000 steps.
    public static let stableDiffusion = NoiseSchedule(.scaledLinear, betaStart: 0.00085, betaEnd: 0.012, steps: 1000)

    public init(_ schedule: BetaSchedule, betaStart: Double, betaEnd: Double, steps: Int) {
        precondition(steps >= 2, "a schedule needs at least two steps")
        switch schedule {
        case .linear:
            betas = torchLinspace(Float(betaStart), Float(betaEnd), steps: steps)
        case .scaledLinear:
            betas = torchLinspace(Float(betaStart.squareRoot()), Float(betaEnd.squareRoot()), steps: steps).map { $0 * $0 }
        }
        var product = 1.0
        alphasCumprod = betas.map { beta in
            product *= Double(1 - beta)
            return Float(product)
        }
    }

    /// `sqrt(abar_t) * latent + sqrt(1 - abar_t) * noise`, as diffusers' `add_noise`
    /// computes it in float32. Throws when the shapes differ or `t` is out of range.
    /// The square roots here are correctly rounded; PyTorch's (MKL vsSqrt) are
    /// 1 ULP away at some timesteps, so results can differ by about 1e-7.
    public func addNoise(_ latent: Tensor, noise: Tensor, timestep t: Int) throws -> Tensor {
        guard latent.shape == noise.shape else {
            throw ShapeError("addNoise", "latent \(latent.shape) and noise \(noise.shape) differ")
        }
        guard t >= 0 && t < trainTimesteps else {
            throw ShapeError("addNoise", "timestep \(t) outside 0..<\(trainTimesteps)")
        }
        let signalScale = alphasCumprod[t].squareRoot()
        let noiseScale = (1 - alphasCumprod[t]).squareRoot()
        let result = Tensor(uninitialized: latent.shape)
        let z = latent.pointer, eps = noise.pointer, out = result.mutablePointer
        for i in 0..<latent.count {
            let signal = signalScale * z[i]
            let scaledNoise = noiseScale * eps[i]
            out[i] = signal + scaledNoise
        }
        return result
    }
}

/// `torch.linspace(start, end, steps, dtype=float32)` on CPU: the first half
/// counts up from `start`, the second half down from `end`, each value one
/// multiply-add that the compiler fuses into an FMA (checked against torch).
private func torchLinspace(_ start: Float, _ end: Float, steps: Int) -> [Float] {
    let step = (end - start) / Float(steps - 1)
    let halfway = steps / 2
    return (0..<steps).map { index in
        index < halfway ? start.addingProduct(step, Float(index))
                        : end.addingProduct(-step, Float(steps - index - 1))
    }
}
