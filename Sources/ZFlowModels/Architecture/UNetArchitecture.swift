import ZFlowIO

/// How a UNet's tensors are named in a file: diffusers module names (`down_blocks.0.resnets.0.*`)
/// or CompVis `ldm` names (`input_blocks.1.0.*`).
public enum UNetNaming: Sendable { case diffusers, compVis }

/// A UNet's architecture as its tensor shapes hold it, as ComfyUI's model detection reads SD
/// files: levels and layers per block (from the numbered modules stored), channels per level,
/// input and output channels, which levels have attention, the context width and the transformer
/// depth. Heads (8 per level) and GroupNorm groups (32) are not in the shapes and take SD v1's
/// values. `resolve` checks a declared config against the shapes before anything is allocated.
public struct UNetArchitecture: Sendable {
    /// The architecture read from the shapes, SD v1 values for the rest.
    public let config: UNetConfig
    let weights: String
    let levels: ShapeEvidence
    let layersPerBlock: ShapeEvidence
    let channels: [ShapeEvidence?]
    let inChannels: ShapeEvidence?
    let outChannels: ShapeEvidence?
    let crossAttentionDim: ShapeEvidence?
    let transformerDepth: ShapeEvidence?
    let downAttention: [ShapeEvidence]
    let upAttention: [ShapeEvidence]

    /// SD v1's heads per level and GroupNorm groups, used when no config gives them.
    static let conventionalHeads = 8
    static let conventionalGroups = 32

    /// `stored` maps a name in `naming` (relative to the UNet) to the stored key.
    public init(source: TensorSource, naming: UNetNaming, stored: @escaping @Sendable (String) -> String) throws {
        weights = source.origin
        let raw = TensorProbe(source: source, stored: stored)
        let layers: (count: Int, evidence: ShapeEvidence?), levelCount: (count: Int, evidence: ShapeEvidence?)
        switch naming {
        case .diffusers:
            layers = raw.count { "down_blocks.0.resnets.\($0).conv1.weight" }
            levelCount = raw.count { "down_blocks.\($0).resnets.0.conv1.weight" }
        case .compVis:
            layers = raw.count { "input_blocks.\($0 + 1).0.in_layers.2.weight" }
            let perLevel = layers.count + 1
            levelCount = raw.count { "input_blocks.\($0 * perLevel + 1).0.in_layers.2.weight" }
        }
        guard let layersEvidence = layers.evidence, let levelsEvidence = levelCount.evidence else {
            let first = naming == .diffusers ? "down_blocks.0.resnets.0.conv1.weight" : "input_blocks.1.0.in_layers.2.weight"
            throw ArchitectureError.notFound(component: "unet", weights: source.origin, tensor: raw.key(first))
        }
        layersPerBlock = layersEvidence
        levels = levelsEvidence

        var config = UNetConfig.sdV1
        config.layersPerBlock = layers.count
        config.blockOutChannels = Array(repeating: 1, count: levelCount.count)
        config.upBlockTypes = Array(repeating: "UpBlock2D", count: levelCount.count)
        // Below, every name is a diffusers one; CompVis files go through the table of these counts
        // (it names no upsampler, the only module whose name depends on more).
        let probe = naming == .diffusers ? raw : raw.through(compVisUNetTable(config, storedPrefix: ""))
        let range = 0..<levelCount.count
        inChannels = probe.dimension("conv_in.weight", axis: 1, rank: 4)
        channels = range.map { probe.dimension("down_blocks.\($0).resnets.0.conv1.weight", axis: 0, rank: 4) }
        outChannels = probe.dimension("conv_out.weight", axis: 0, rank: 4)
        let mid = "mid_block.attentions.0"
        crossAttentionDim = probe.dimension("\(mid).transformer_blocks.0.attn2.to_k.weight", axis: 1, rank: 2)
        let depth = probe.count { "\(mid).transformer_blocks.\($0).attn2.to_k.weight" }
        transformerDepth = depth.evidence
        downAttention = range.map { probe.presence("down_blocks.\($0).attentions.0.proj_in.weight") }
        upAttention = range.map { probe.presence("up_blocks.\($0).attentions.0.proj_in.weight") }

        config.inChannels = inChannels?.value ?? config.inChannels
        config.outChannels = outChannels?.value ?? config.outChannels
        config.blockOutChannels = channels.map { $0?.value ?? 1 }
        config.crossAttentionDim = crossAttentionDim?.value ?? config.crossAttentionDim
        config.transformerLayersPerBlock = max(depth.count, 1)
        config.downBlockTypes = downAttention.map { $0.isPresent ? "CrossAttnDownBlock2D" : "DownBlock2D" }
        config.upBlockTypes = upAttention.map { $0.isPresent ? "CrossAttnUpBlock2D" : "UpBlock2D" }
        config.useLinearProjection = probe.shape("\(mid).proj_in.weight")?.count == 2
        config.attentionHeadDim = .same(Self.conventionalHeads)
        config.normNumGroups = Self.conventionalGroups
        self.config = config
    }

    /// The config to build with: `declared`'s keys over the shapes' config (all of `config`
    /// when nil), checked against the shapes, then validated. A value the shapes do not hold
    /// that neither `declared` gives nor SD v1's convention fits is an `ArchitectureError`
    /// telling the user to give it in `configFile`.
    public func resolve(_ declared: DeclaredConfig?, configFile: String) throws -> UNetConfig {
        let resolved = try declared?.overlay(on: config) ?? config
        try check(resolved, configOrigin: declared?.origin ?? "the config read from the shapes")
        try withConventions(declared: declared, component: "unet", weights: weights, configFile: configFile,
                            conventions: ["norm_num_groups": "\(Self.conventionalGroups)",
                                          "attention_head_dim": "\(Self.conventionalHeads)"]) {
            try resolved.validate()
        }
        return resolved
    }

    /// Throws `ConfigMismatchError` at the first value of `declared` the shapes contradict. Counts
    /// come first, so nothing sized by a lying count is ever built.
    func check(_ declared: UNetConfig, configOrigin: String) throws {
        let checker = ConfigChecker(config: configOrigin, weights: weights)
        try checker.check("block_out_channels", declared.blockOutChannels.count, levels,
                          shown: "\(declared.blockOutChannels) (\(declared.blockOutChannels.count) levels)")
        try checker.check("layers_per_block", declared.layersPerBlock, layersPerBlock)
        try checker.check("transformer_layers_per_block", declared.transformerLayersPerBlock, transformerDepth)
        for (level, evidence) in channels.enumerated() {
            try checker.check("block_out_channels[\(level)]", declared.blockOutChannels[level], evidence)
        }
        try checker.check("in_channels", declared.inChannels, inChannels)
        try checker.check("out_channels", declared.outChannels, outChannels)
        try checker.check("cross_attention_dim", declared.crossAttentionDim, crossAttentionDim)
        for (level, evidence) in downAttention.enumerated() where level < declared.downBlockTypes.count {
            let type = declared.downBlockTypes[level]
            try checker.check("down_block_types[\(level)]", type, needsModule: type == "CrossAttnDownBlock2D", evidence)
        }
        for (level, evidence) in upAttention.enumerated() where level < declared.upBlockTypes.count {
            let type = declared.upBlockTypes[level]
            try checker.check("up_block_types[\(level)]", type, needsModule: type == "CrossAttnUpBlock2D", evidence)
        }
    }
}

extension ShapeEvidence {
    var isPresent: Bool {
        if case .presence(_, nil) = self { return false }
        return true
    }
}

/// Runs `validate`; a `ConfigError` about a key that `declared` does not give and that took its
/// SD v1 convention (`conventions`: key -> value) becomes `ArchitectureError.conventionDoesNotFit`.
func withConventions(declared: DeclaredConfig?, component: String, weights: String, configFile: String,
                     conventions: [String: String], _ validate: () throws -> Void) throws {
    do {
        try validate()
    } catch let error as ConfigError {
        guard let key = error.key, let convention = conventions[key], declared?.declares(key) != true else { throw error }
        throw ArchitectureError.conventionDoesNotFit(component: component, key: key, convention: convention,
                                                     reason: "\(error)", weights: weights, sidecar: configFile)
    }
}
