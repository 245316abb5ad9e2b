import ZFlowTensor

/// Matches diffusers `CrossAttnDownBlock2D` (with `attentions`) and `DownBlock2D` (without).
struct UNetDownBlock: Sendable {
    let resnets: [ResnetBlock2D]
    /// One spatial transformer after each resnet, or none.
    let attentions: [Transformer2DModel]
    let downsampler: Downsample2D?

    init(_ weights: WeightReader, config: UNetConfig, level: Int, heads: Int) throws {
        let channels = config.blockOutChannels[level]
        let inChannels = level == 0 ? config.blockOutChannels[0] : config.blockOutChannels[level - 1]
        let timeChannels = config.blockOutChannels[0] * 4
        resnets = try (0..<config.layersPerBlock).map {
            try ResnetBlock2D(weights.scoped("resnets.\($0)"), inChannels: $0 == 0 ? inChannels : channels,
                              outChannels: channels, timeEmbeddingChannels: timeChannels,
                              groups: config.normNumGroups, eps: config.normEps)
        }
        attentions = config.downBlockTypes[level] == "CrossAttnDownBlock2D"
            ? try (0..<config.layersPerBlock).map {
                try Transformer2DModel(weights.scoped("attentions.\($0)"), channels: channels, heads: heads,
                                       headDimension: channels / heads, contextDimension: config.crossAttentionDim,
                                       groups: config.normNumGroups)
            }
            : []
        downsampler = level == config.levels - 1 ? nil
            : try Downsample2D(weights.scoped("downsamplers.0"), channels: channels, padding: config.downsamplePadding)
    }
}

/// Matches diffusers `UNetMidBlock2DCrossAttn` (resnet, spatial transformer, resnet).
struct UNetMidBlock: Sendable {
    let firstResnet: ResnetBlock2D
    let attention: Transformer2DModel
    let secondResnet: ResnetBlock2D

    init(_ weights: WeightReader, config: UNetConfig, heads: Int) throws {
        let channels = config.blockOutChannels[config.levels - 1]
        let timeChannels = config.blockOutChannels[0] * 4
        firstResnet = try ResnetBlock2D(weights.scoped("resnets.0"), inChannels: channels, outChannels: channels,
                                        timeEmbeddingChannels: timeChannels, groups: config.normNumGroups,
                                        eps: config.normEps)
        attention = try Transformer2DModel(weights.scoped("attentions.0"), channels: channels, heads: heads,
                                           headDimension: channels / heads,
                                           contextDimension: config.crossAttentionDim, groups: config.normNumGroups)
        secondResnet = try ResnetBlock2D(weights.scoped("resnets.1"), inChannels: channels, outChannels: channels,
                                         timeEmbeddingChannels: timeChannels, groups: config.normNumGroups,
                                         eps: config.normEps)
    }
}

/// Matches diffusers `CrossAttnUpBlock2D` (with `attentions`) and `UpBlock2D` (without):
/// `layers_per_block + 1` resnets, each taking the running state concatenated with one skip.
struct UNetUpBlock: Sendable {
    let resnets: [ResnetBlock2D]
    let attentions: [Transformer2DModel]
    let upsampler: Upsample2D?

    /// `index` counts up blocks from the lowest resolution (diffusers `up_blocks.index`).
    init(_ weights: WeightReader, config: UNetConfig, index: Int, heads: Int) throws {
        let reversed = Array(config.blockOutChannels.reversed())
        let channels = reversed[index]
        let previousChannels = reversed[max(index - 1, 0)]
        let skipInputChannels = reversed[min(index + 1, reversed.count - 1)]
        let timeChannels = config.blockOutChannels[0] * 4
        let count = config.layersPerBlock + 1
        resnets = try (0..<count).map { layer in
            let skipChannels = layer == count - 1 ? skipInputChannels : channels
            let stateChannels = layer == 0 ? previousChannels : channels
            return try ResnetBlock2D(weights.scoped("resnets.\(layer)"), inChannels: stateChannels + skipChannels,
                                     outChannels: channels, timeEmbeddingChannels: timeChannels,
                                     groups: config.normNumGroups, eps: config.normEps)
        }
        attentions = config.upBlockTypes[index] == "CrossAttnUpBlock2D"
            ? try (0..<count).map {
                try Transformer2DModel(weights.scoped("attentions.\($0)"), channels: channels, heads: heads,
                                       headDimension: channels / heads, contextDimension: config.crossAttentionDim,
                                       groups: config.normNumGroups)
            }
            : []
        upsampler = index == config.levels - 1 ? nil
            : try Upsample2D(weights.scoped("upsamplers.0"), channels: channels)
    }
}
