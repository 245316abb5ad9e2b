import Foundation
import ZFlowTensor

/// Matches diffusers `get_timestep_embedding` for a [N] timestep tensor (computed in Float32 like
/// PyTorch): row n is `[sin | cos]` of `t_n * exp(-ln(10000) * i / (half - freqShift))`, or
/// `[cos | sin]` when flipped; [N, dimension].
func sinusoidalTimestepEmbedding(_ timesteps: [Float], dimension: Int, flipSinToCos: Bool, freqShift: Float) -> Tensor {
    let half = dimension / 2
    let embedding = Tensor(zeros: [timesteps.count, dimension])
    let logMaxPeriod = Float(log(10000.0))
    for (row, timestep) in timesteps.enumerated() {
        let values = embedding.mutablePointer + row * dimension
        for i in 0..<half {
            let exponent = -logMaxPeriod * Float(i) / (Float(half) - freqShift)
            let angle = timestep * Foundation.exp(exponent)
            let (sine, cosine) = (Foundation.sin(angle), Foundation.cos(angle))
            values[i] = flipSinToCos ? cosine : sine
            values[half + i] = flipSinToCos ? sine : cosine
        }
    }
    return embedding
}

/// Matches diffusers `TimestepEmbedding` (linear_1, SiLU, linear_2).
struct TimestepEmbedding: Sendable {
    let linear1: Linear
    let linear2: Linear

    init(_ weights: WeightReader, inChannels: Int, embeddingDimension: Int) throws {
        linear1 = try Linear(weights.scoped("linear_1"), inFeatures: inChannels, outFeatures: embeddingDimension)
        linear2 = try Linear(weights.scoped("linear_2"), inFeatures: embeddingDimension, outFeatures: embeddingDimension)
    }

    func callAsFunction(_ x: Tensor) throws -> Tensor { try linear2(silu(linear1(x))) }
}
