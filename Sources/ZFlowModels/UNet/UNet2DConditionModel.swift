import ZFlowTensor

/// What one UNet call returns: the noise prediction (when asked for) and the requested taps.
public struct UNetOutput: Sendable {
    /// [B, out_channels, H, W], or nil when the call stopped after its last tap.
    public let eps: Tensor?
    /// Tap number (1-based, execution order) -> [B, C, h, w].
    public let taps: [Int: Tensor]
}

/// A UNet problem caused by the caller's inputs.
public enum UNetError: Error, CustomStringConvertible, Equatable {
    case tapOutOfRange(tap: Int, available: Int)
    case latentSize(height: Int, width: Int, multiple: Int)

    public var description: String {
        switch self {
        case let .tapOutOfRange(tap, available):
            return "UNet tap \(tap) does not exist: this UNet has taps 1...\(available)"
        case let .latentSize(height, width, multiple):
            return "UNet latent \(height)x\(width): height and width must be multiples of \(multiple)"
        }
    }
}

/// Matches diffusers `UNet2DConditionModel.forward` for SD v1.x configs (and SD v2's linear
/// projection / per-level heads), any batch size B >= 1, no classifier-free guidance.
///
/// Taps: the output of every spatial transformer, numbered from 1 in execution order
/// (down blocks, then the mid block's transformer before its second resnet, then up blocks;
/// an up block's last tap is taken before its upsampler). SD v1 has 16.
public struct UNet2DConditionModel: Sendable {
    public let config: UNetConfig
    let timeEmbedding: TimestepEmbedding
    let convIn: Conv2d
    let downBlocks: [UNetDownBlock]
    let midBlock: UNetMidBlock
    let upBlocks: [UNetUpBlock]
    let normOut: GroupNorm
    let convOut: Conv2d
    /// Every weight the model computes with, by stored key (the same tensors, no copy), so
    /// gradients taken on a `GradientTape` can be asked for by key.
    public let parameters: [String: Tensor]

    /// Builds the model from `weights` (diffusers key names; layouts supply a rename).
    /// Does not check for unused keys: `init(weights:config:)` does.
    public init(_ weights: WeightReader, config: UNetConfig) throws {
        try config.validate()
        self.config = config
        let heads = try config.headsPerLevel()
        let base = config.blockOutChannels[0]
        timeEmbedding = try TimestepEmbedding(weights.scoped("time_embedding"), inChannels: base,
                                              embeddingDimension: base * 4)
        convIn = try Conv2d(weights.scoped("conv_in"), inChannels: config.inChannels, outChannels: base,
                            kernelSize: 3, padding: 1)
        downBlocks = try (0..<config.levels).map {
            try UNetDownBlock(weights.scoped("down_blocks.\($0)"), config: config, level: $0, heads: heads[$0])
        }
        midBlock = try UNetMidBlock(weights.scoped("mid_block"), config: config, heads: heads[config.levels - 1])
        let reversedHeads = Array(heads.reversed())
        upBlocks = try (0..<config.levels).map {
            try UNetUpBlock(weights.scoped("up_blocks.\($0)"), config: config, index: $0, heads: reversedHeads[$0])
        }
        normOut = try GroupNorm(weights.scoped("conv_norm_out"), groups: config.normNumGroups, channels: base,
                                eps: config.normEps)
        convOut = try Conv2d(weights.scoped("conv_out"), inChannels: base, outChannels: config.outChannels,
                             kernelSize: 3, padding: 1)
        parameters = weights.takenTensors()
    }

    /// Builds the model from one component of a checkpoint, strictly: every missing, mis-shaped
    /// or unused tensor of the component is reported in one `WeightError.incompatible`.
    public init(weights: ComponentWeights, config: UNetConfig) throws {
        self = try weights.load { try UNet2DConditionModel($0, config: config) }
    }

    /// How many taps this UNet has (16 for SD v1).
    public var tapCount: Int {
        downBlocks.map(\.attentions.count).reduce(0, +) + 1 + upBlocks.map(\.attentions.count).reduce(0, +)
    }

    /// Runs the UNet on `latent` [B, in_channels, H, W] at one `timestep` for the whole batch.
    public func callAsFunction(_ latent: Tensor, timestep: Float, context: Tensor,
                               taps requested: Set<Int> = [], wantEps: Bool = true,
                               hooks: [Int: any SpatialTransformerHook] = [:]) throws -> UNetOutput {
        try callAsFunction(latent, timesteps: [timestep], context: context, taps: requested, wantEps: wantEps, hooks: hooks)
    }

    /// Runs the UNet on `latent` [B, in_channels, H, W] at `timesteps` (one for the whole batch,
    /// or one per sample, as diffusers takes a [B] timestep tensor) with text `context`
    /// [S, cross_attention_dim] (shared by the batch) or [B, S, cross_attention_dim].
    /// Returns the taps in `taps`; when `wantEps` is false it stops right after the largest
    /// requested tap and computes nothing past it. `hooks` (keyed by tap number) change the
    /// spatial transformers they are keyed to (LD-ZNet fusion).
    public func callAsFunction(_ latent: Tensor, timesteps: [Float], context: Tensor,
                               taps requested: Set<Int> = [], wantEps: Bool = true,
                               hooks: [Int: any SpatialTransformerHook] = [:]) throws -> UNetOutput {
        if let bad = requested.union(hooks.keys).first(where: { !(1...tapCount).contains($0) }) {
            throw UNetError.tapOutOfRange(tap: bad, available: tapCount)
        }
        let multiple = 1 << (config.levels - 1)
        guard latent.rank == 4, latent.shape[0] >= 1, latent.shape[1] == config.inChannels,
              latent.shape[2] % multiple == 0, latent.shape[3] % multiple == 0 else {
            if latent.rank == 4, latent.shape[0] >= 1, latent.shape[1] == config.inChannels {
                throw UNetError.latentSize(height: latent.shape[2], width: latent.shape[3], multiple: multiple)
            }
            throw ShapeError("UNet", "latent \(latent.shape), expected [B, \(config.inChannels), H, W]")
        }
        let batch = latent.shape[0]
        guard timesteps.count == 1 || timesteps.count == batch else {
            throw ShapeError("UNet", "\(timesteps.count) timesteps for latent \(latent.shape): give one for the batch or one per sample")
        }
        guard (context.rank == 2 || (context.rank == 3 && context.shape[0] == batch)),
              context.shape[context.rank - 1] == config.crossAttentionDim else {
            throw ShapeError("UNet", "context \(context.shape), expected [S, \(config.crossAttentionDim)] "
                             + "or [\(batch), S, \(config.crossAttentionDim)] for latent \(latent.shape)")
        }
        var recorder = TapRecorder(requested: requested, stopsEarly: !wantEps)
        if recorder.isDone { return UNetOutput(eps: nil, taps: [:]) }

        let sinusoids = sinusoidalTimestepEmbedding(timesteps, dimension: config.blockOutChannels[0],
                                                    flipSinToCos: config.flipSinToCos, freqShift: Float(config.freqShift))
        // One timestep: one embedding [E] added to every sample; else one per sample, [B, E].
        let embedded = try timeEmbedding(sinusoids)
        let time = timesteps.count == 1 ? try embedded.reshaped([-1]) : embedded

        var h = try convIn(latent)
        var skips = [h]
        for block in downBlocks {
            for (layer, resnet) in block.resnets.enumerated() {
                h = try resnet(h, timeEmbedding: time)
                if !block.attentions.isEmpty {
                    h = try block.attentions[layer](h, context: context, hook: hooks[recorder.next])
                    if recorder.record(h) { return recorder.output(eps: nil) }
                }
                skips.append(h)
            }
            if let downsampler = block.downsampler {
                h = try downsampler(h)
                skips.append(h)
            }
        }

        h = try midBlock.firstResnet(h, timeEmbedding: time)
        h = try midBlock.attention(h, context: context, hook: hooks[recorder.next])
        if recorder.record(h) { return recorder.output(eps: nil) }
        h = try midBlock.secondResnet(h, timeEmbedding: time)

        for block in upBlocks {
            for (layer, resnet) in block.resnets.enumerated() {
                // popLast releases each skip as soon as it is consumed.
                guard let skip = skips.popLast() else { throw ShapeError("UNet", "skip connections exhausted") }
                h = try resnet(concat([h, skip], axis: 1), timeEmbedding: time)
                if !block.attentions.isEmpty {
                    h = try block.attentions[layer](h, context: context, hook: hooks[recorder.next])
                    if recorder.record(h) { return recorder.output(eps: nil) }
                }
            }
            if let upsampler = block.upsampler { h = try upsampler(h) }
        }
        let eps = try convOut(normOut(h, thenSiLU: true))
        return recorder.output(eps: eps)
    }
}

/// Numbers the spatial transformer outputs and keeps the requested ones.
private struct TapRecorder {
    let requested: Set<Int>
    let stopAfter: Int?
    private(set) var count = 0
    private var kept: [Int: Tensor] = [:]

    init(requested: Set<Int>, stopsEarly: Bool) {
        self.requested = requested
        stopAfter = stopsEarly ? (requested.max() ?? 0) : nil
    }

    var isDone: Bool { stopAfter.map { count >= $0 } ?? false }

    /// The number the next recorded tap gets.
    var next: Int { count + 1 }

    /// Records the next tap; returns true when the forward pass may stop here.
    mutating func record(_ value: Tensor) -> Bool {
        count += 1
        if requested.contains(count) { kept[count] = value }
        return isDone
    }

    func output(eps: Tensor?) -> UNetOutput { UNetOutput(eps: eps, taps: kept) }
}
