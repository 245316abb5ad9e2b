import ZFlowTensor

/// LD-ZNet's segmentation network (spec sections 7, 8; `ZNet` in tools/ldznet_reference.py):
/// the SD v1 UNet (`UNet2DConditionModel`, out_channels 1) run on the clean latent at timestep 0
/// with text cross-attention everywhere, a fusion strategy at each fusion position (taps 6...10),
/// and the `out` + `final` head. Weights are read under diffusers names (`final.*` for the head;
/// fusion weights under each position's transformer); `LDZNetCheckpoint` supplies the renames.
public struct ZNet: Sendable {
    public let unet: UNet2DConditionModel
    /// The strategy at each position, by tap number.
    public let fusions: [Int: any FusionStrategy]
    public let fusionName: String
    let head: ZNetHead
    /// Every weight the model computes with (UNet, fusions, head), keyed by checkpoint key: the
    /// same tensors (no copy), so gradients taken on a `GradientTape` can be asked for by key.
    public let parameters: [String: Tensor]

    /// Builds ZNet from `weights`. `config.outChannels` must be 1; `positions` come from
    /// `fusionPositions(config, poolGridSizes:)`. Does not check for unused keys.
    /// `parameterKey` names `parameters` from model-side (diffusers) keys; nil: the stored keys.
    public init(_ weights: WeightReader, config: UNetConfig, fusion: any FusionStrategy.Type,
                positions: [FusionPosition], parameterKey: ((String) -> String)? = nil) throws {
        guard config.outChannels == 1 else {
            throw ConfigError.invalid(key: "out_channels", message: "is \(config.outChannels); ZNet predicts 1 channel")
        }
        unet = try UNet2DConditionModel(weights, config: config)
        var fusions: [Int: any FusionStrategy] = [:]
        for position in positions {
            fusions[position.tap] = try fusion.init(weights.scoped(position.path), position: position)
        }
        self.fusions = fusions
        fusionName = fusion.name
        head = try ZNetHead(weights.scoped("final"))
        parameters = weights.takenTensors(keyedBy: parameterKey)
    }

    /// The taps whose SD features a run needs (empty for `none`).
    public var requiredTaps: [Int] {
        fusions.values.filter { type(of: $0).needsSDFeature }.map(\.position.tap).sorted()
    }

    /// Logits [B, 1, 8h, 8w] for the clean latents `latent` [B, 4, h, w] (VAE mean * 0.18215),
    /// text `context` [B, 77, cross_attention_dim] (or [77, cross_attention_dim] for every sample),
    /// and the SD UNet's taps `sdFeatures` (tap -> [B, C, h', w']; for `cross_attention` a tap may
    /// instead be given already pooled, [B, h'*w'+1, C] or [h'*w'+1, C] for every sample).
    public func callAsFunction(_ latent: Tensor, context: Tensor, sdFeatures: [Int: Tensor] = [:]) throws -> Tensor {
        var hooks: [Int: any SpatialTransformerHook] = [:]
        for (tap, fusion) in fusions {
            hooks[tap] = try fusion.hook(sdFeature: sdFeatures[tap])
        }
        let output = try unet(latent, timestep: 0, context: context, hooks: hooks)
        guard let projected = output.eps else { throw ShapeError("ZNet", "the UNet returned no output") }
        return try head(projected)
    }
}
