import ZFlowIO

/// The VAE encoder's architecture as its tensor shapes hold it: levels, layers per block,
/// channels per level, input channels, latent channels (half of `conv_out`'s outputs) and
/// whether `quant_conv` is stored. GroupNorm groups (32) are not in the shapes and take SD v1's value.
public struct VAEArchitecture: Sendable {
    public let config: VAEConfig
    let weights: String
    let levels: ShapeEvidence
    let layersPerBlock: ShapeEvidence
    let channels: [ShapeEvidence?]
    let inChannels: ShapeEvidence?
    let latentChannels: ShapeEvidence?
    let quantConv: ShapeEvidence

    static let conventionalGroups = 32

    /// `stored` maps a name in `naming` (relative to the autoencoder: `encoder.*`, `quant_conv.*`)
    /// to the stored key; CompVis names are `encoder.down.0.block.0.*`.
    public init(source: TensorSource, naming: UNetNaming, stored: @escaping @Sendable (String) -> String) throws {
        weights = source.origin
        let raw = TensorProbe(source: source, stored: stored)
        let resnet: (Int, Int) -> String = naming == .diffusers
            ? { "encoder.down_blocks.\($0).resnets.\($1).conv1.weight" } : { "encoder.down.\($0).block.\($1).conv1.weight" }
        let layers = raw.count { resnet(0, $0) }
        let levelCount = raw.count { resnet($0, 0) }
        guard let layersEvidence = layers.evidence, let levelsEvidence = levelCount.evidence else {
            throw ArchitectureError.notFound(component: "vae", weights: source.origin, tensor: raw.key(resnet(0, 0)))
        }
        layersPerBlock = layersEvidence
        levels = levelsEvidence

        var config = VAEConfig.sdV1
        config.layersPerBlock = layers.count
        config.blockOutChannels = Array(repeating: 1, count: levelCount.count)
        config.downBlockTypes = Array(repeating: "DownEncoderBlock2D", count: levelCount.count)
        let probe = naming == .diffusers ? raw : raw.through(compVisVAEEncoderTable(config, storedPrefix: ""))
        inChannels = probe.dimension("encoder.conv_in.weight", axis: 1, rank: 4)
        channels = (0..<levelCount.count).map {
            probe.dimension("encoder.down_blocks.\($0).resnets.0.conv1.weight", axis: 0, rank: 4)
        }
        latentChannels = probe.dimension("encoder.conv_out.weight", axis: 0, rank: 4, scale: 2)
        quantConv = probe.presence("quant_conv.weight")

        config.inChannels = inChannels?.value ?? config.inChannels
        config.blockOutChannels = channels.map { $0?.value ?? 1 }
        config.latentChannels = latentChannels?.value ?? config.latentChannels
        config.useQuantConv = quantConv.isPresent
        config.normNumGroups = Self.conventionalGroups
        self.config = config
    }

    /// The config to build with (see `UNetArchitecture.resolve`).
    public func resolve(_ declared: DeclaredConfig?, configFile: String) throws -> VAEConfig {
        let resolved = try declared?.overlay(on: config) ?? config
        try check(resolved, configOrigin: declared?.origin ?? "the config read from the shapes")
        try withConventions(declared: declared, component: "vae", weights: weights, configFile: configFile,
                            conventions: ["norm_num_groups": "\(Self.conventionalGroups)"]) {
            try resolved.validate()
        }
        return resolved
    }

    func check(_ declared: VAEConfig, configOrigin: String) throws {
        let checker = ConfigChecker(config: configOrigin, weights: weights)
        try checker.check("block_out_channels", declared.blockOutChannels.count, levels,
                          shown: "\(declared.blockOutChannels) (\(declared.blockOutChannels.count) levels)")
        try checker.check("layers_per_block", declared.layersPerBlock, layersPerBlock)
        for (level, evidence) in channels.enumerated() {
            try checker.check("block_out_channels[\(level)]", declared.blockOutChannels[level], evidence)
        }
        try checker.check("in_channels", declared.inChannels, inChannels)
        try checker.check("latent_channels", declared.latentChannels, latentChannels)
        try checker.check("use_quant_conv", "\(declared.useQuantConv)", needsModule: declared.useQuantConv, quantConv)
    }
}
