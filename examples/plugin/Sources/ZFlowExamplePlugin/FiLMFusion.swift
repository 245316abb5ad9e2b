import ZFlowModels
import ZFlowTensor

/// FiLM fusion (Perez et al. 2018), gated so that training starts at "no fusion". At each LD-ZNet
/// position, per sample, with x [C, H, W] the spatial transformer's input and f [C, h, w] the SD feature:
///
///     p = mean of f over h, w                      [C]
///     gamma = W_s p + b_s,  beta = W_t p + b_t     [C] each (scale.*, shift.*: Linear C -> C)
///     x' = x + g * (gamma * x + beta)              per channel, g = gate [C]
///
/// and the transformer runs on x' (also its residual). `gate` starts at zero (x' = x: the plain
/// ZNet), scale and shift at PyTorch's Linear defaults. Keys under the position:
/// `film.gate [C]`, `film.scale.{weight [C, C], bias [C]}`, `film.shift.{weight [C, C], bias [C]}`.
struct FiLMFusion: FusionStrategy {
    static let name = "film"
    static let parameterPrefixes = ["film."]
    static let needsSDFeature = true

    let position: FusionPosition
    let gate: Tensor
    let scale: Linear
    let shift: Linear

    static func initialParameters(position: FusionPosition, seed: UInt64) throws -> [String: Tensor]? {
        let channels = position.channels
        // nn.Linear's defaults: weight and bias uniform(-1/sqrt(in), 1/sqrt(in)).
        let bound = 1 / Float(channels).squareRoot()
        var generator = TorchGenerator(seed: seed)
        return [
            "film.gate": Tensor(zeros: [channels]),
            "film.scale.weight": generator.uniform([channels, channels], bound: bound),
            "film.scale.bias": generator.uniform([channels], bound: bound),
            "film.shift.weight": generator.uniform([channels, channels], bound: bound),
            "film.shift.bias": generator.uniform([channels], bound: bound),
        ]
    }

    init(_ weights: WeightReader, position: FusionPosition) throws {
        let channels = position.channels
        self.position = position
        let film = weights.scoped("film")
        gate = try film("gate", shape: [channels])
        scale = try Linear(film.scoped("scale"), inFeatures: channels, outFeatures: channels)
        shift = try Linear(film.scoped("shift"), inFeatures: channels, outFeatures: channels)
    }

    func hook(sdFeature: Tensor?) throws -> (any SpatialTransformerHook)? {
        guard let sdFeature else { throw FusionError.missingFeature(tap: position.tap, fusion: Self.name) }
        let channels = position.channels
        guard sdFeature.rank == 4, sdFeature.shape[1] == channels else {
            throw ShapeError("film fusion", "tap \(position.tap): SD feature \(sdFeature.shape), expected [B, \(channels), h, w]")
        }
        let batch = sdFeature.shape[0]
        let pooled = try mean(sdFeature.reshaped([batch, channels, -1]), axis: 2)
        // The gate as a [B, C] row per sample (a product with a column of ones: the tape records it).
        let gates = try matmul(Tensor(repeating: 1, shape: [batch, 1]), gate.reshaped([1, channels]))
        return Hook(tap: position.tap, scale: try mul(gates, scale(pooled)), shift: try mul(gates, shift(pooled)))
    }

    /// x + scale * x + shift per sample and channel, with `scale` g * gamma and `shift` g * beta, [B, C].
    struct Hook: SpatialTransformerHook {
        let tap: Int
        let scale: Tensor
        let shift: Tensor

        func transformerInput(_ x: Tensor) throws -> Tensor {
            guard x.rank == 4, [x.shape[0], x.shape[1]] == scale.shape else {
                throw ShapeError("film fusion", "tap \(tap): ZNet hidden state \(x.shape), expected [\(scale.shape[0]), "
                                 + "\(scale.shape[1]), H, W]")
            }
            // scale broadcast over H*W as a product with a row of ones, so that the tape records it.
            let spatial = x.shape[2] * x.shape[3]
            let scaleMap = try matmul(scale.reshaped([scale.count, 1]), Tensor(repeating: 1, shape: [1, spatial])).reshaped(x.shape)
            return try add(add(x, mul(x, scaleMap)), channelBias: shift)
        }
    }
}
