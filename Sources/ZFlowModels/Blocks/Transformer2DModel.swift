import ZFlowTensor

/// Matches diffusers `Transformer2DModel` for continuous inputs (SD v1: 1x1-conv `proj_in` /
/// `proj_out`; SD v2: `use_linear_projection`), one `BasicTransformerBlock` per layer.
/// A 1x1 convolution over [C, H, W] is the same map as a linear layer over the H*W tokens, so
/// both variants run `proj_in` / `proj_out` as linear layers on tokens (the stored [O, I, 1, 1]
/// conv weights are read as [O, I]).
struct Transformer2DModel: Sendable {
    let norm: GroupNorm
    let projectIn: Linear
    let blocks: [BasicTransformerBlock]
    let projectOut: Linear

    init(_ weights: WeightReader, channels: Int, heads: Int, headDimension: Int, contextDimension: Int,
         groups: Int, layers: Int = 1) throws {
        let inner = heads * headDimension
        norm = try GroupNorm(weights.scoped("norm"), groups: groups, channels: channels, eps: 1e-6)
        projectIn = try Linear(weights.scoped("proj_in"), inFeatures: channels, outFeatures: inner)
        blocks = try (0..<layers).map {
            try BasicTransformerBlock(weights.scoped("transformer_blocks.\($0)"), dimension: inner, heads: heads,
                                      headDimension: headDimension, contextDimension: contextDimension)
        }
        projectOut = try Linear(weights.scoped("proj_out"), inFeatures: inner, outFeatures: channels)
    }

    /// `x` [B, C, H, W], `context` [S, contextDimension] (shared by the batch) or [B, S,
    /// contextDimension] -> [B, C, H, W]. `hook` may replace the input and add a step inside each
    /// block (see `SpatialTransformerHook`). A block that a recomputing tape runs again in
    /// backward (`GradientTape.block`), the hook's steps included.
    func callAsFunction(_ input: Tensor, context: Tensor, hook: (any SpatialTransformerHook)? = nil) throws -> Tensor {
        try GradientTape.block { [self] in
            let x = try hook?.transformerInput(input) ?? input
            let (batch, channels, height, width) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
            var tokens = try projectIn(transpose(norm(x).reshaped([batch, channels, height * width])))
            for block in blocks { tokens = try block(tokens, context: context, hook: hook) }
            let projected = try transpose(projectOut(tokens)).reshaped(x.shape)
            return try add(projected, x)
        }
    }
}
