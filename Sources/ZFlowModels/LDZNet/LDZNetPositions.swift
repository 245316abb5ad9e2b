/// One place in a UNet where LD-ZNet fuses an SD feature into ZNet: a spatial transformer,
/// named by its tap number (spec section 5) and its diffusers module path.
public struct FusionPosition: Sendable, Equatable {
    /// 1-based tap number in execution order (6...10 for LD-ZNet in SD v1).
    public let tap: Int
    /// diffusers module path of the spatial transformer, e.g. `down_blocks.2.attentions.1`.
    public let path: String
    /// Channels of the transformer's input (and of the SD feature at the same position).
    public let channels: Int
    /// Attention heads of the transformer (the pool and `attn3` use the same count).
    public let heads: Int
    /// S of the stored pool embedding [C, S*S+1], when the strategy has a pool.
    public let poolGridSize: Int?

    public init(tap: Int, path: String, channels: Int, heads: Int, poolGridSize: Int? = nil) {
        self.tap = tap
        self.path = path
        self.channels = channels
        self.heads = heads
        self.poolGridSize = poolGridSize
    }
}

/// The LD-ZNet taps: CompVis `input_blocks.8.1`, `middle_block.1`, `output_blocks.{3,4,5}.1`.
public let ldzNetTaps = [6, 7, 8, 9, 10]

/// The spatial transformers of a UNet with `config`, in tap order (1-based index = tap number):
/// the down blocks' transformers, the mid block's, then the up blocks' (matches the numbering of
/// `UNet2DConditionModel`'s taps).
func spatialTransformerPositions(_ config: UNetConfig) throws -> [(path: String, channels: Int, heads: Int)] {
    let heads = try config.headsPerLevel()
    var positions: [(path: String, channels: Int, heads: Int)] = []
    for level in 0..<config.levels where config.downBlockTypes[level] == "CrossAttnDownBlock2D" {
        for layer in 0..<config.layersPerBlock {
            positions.append(("down_blocks.\(level).attentions.\(layer)", config.blockOutChannels[level], heads[level]))
        }
    }
    positions.append(("mid_block.attentions.0", config.blockOutChannels[config.levels - 1], heads[config.levels - 1]))
    let reversedChannels = Array(config.blockOutChannels.reversed()), reversedHeads = Array(heads.reversed())
    for index in 0..<config.levels where config.upBlockTypes[index] == "CrossAttnUpBlock2D" {
        for layer in 0...config.layersPerBlock {
            positions.append(("up_blocks.\(index).attentions.\(layer)", reversedChannels[index], reversedHeads[index]))
        }
    }
    return positions
}

/// The fusion positions of a ZNet with `config` at `taps`; `poolGridSizes` (tap -> S) as stored.
public func fusionPositions(_ config: UNetConfig, taps: [Int] = ldzNetTaps,
                            poolGridSizes: [Int: Int] = [:]) throws -> [FusionPosition] {
    let all = try spatialTransformerPositions(config)
    return try taps.map { tap in
        guard (1...all.count).contains(tap) else { throw UNetError.tapOutOfRange(tap: tap, available: all.count) }
        let (path, channels, heads) = all[tap - 1]
        return FusionPosition(tap: tap, path: path, channels: channels, heads: heads, poolGridSize: poolGridSizes[tap])
    }
}
