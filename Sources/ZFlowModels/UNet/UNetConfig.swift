import Foundation

/// The `config.json` of a diffusers `UNet2DConditionModel`, as far as SD v1/v2 use it.
/// Keys that select architectures ZFlow does not implement are checked by `validate()`.
public struct UNetConfig: Codable, Sendable, Equatable {
    public var inChannels: Int
    public var outChannels: Int
    public var blockOutChannels: [Int]
    public var layersPerBlock: Int
    /// Despite its name, diffusers uses this as the number of heads per level when
    /// `num_attention_heads` is absent (true of every SD v1/v2 config).
    public var attentionHeadDim: PerLevel
    public var numAttentionHeads: PerLevel?
    public var crossAttentionDim: Int
    public var downBlockTypes: [String]
    public var upBlockTypes: [String]
    public var midBlockType: String
    public var flipSinToCos: Bool
    public var freqShift: Int
    public var normNumGroups: Int
    public var normEps: Float
    public var useLinearProjection: Bool
    public var onlyCrossAttention: Bool
    public var upcastAttention: Bool
    public var downsamplePadding: Int
    public var transformerLayersPerBlock: Int
    public var actFn: String
    public var resnetTimeScaleShift: String
    public var timeEmbeddingType: String
    public var classEmbedType: String?
    public var additionEmbedType: String?
    public var centerInputSample: Bool
    public var dualCrossAttention: Bool

    enum CodingKeys: String, CodingKey {
        case inChannels = "in_channels", outChannels = "out_channels", blockOutChannels = "block_out_channels"
        case layersPerBlock = "layers_per_block", attentionHeadDim = "attention_head_dim"
        case numAttentionHeads = "num_attention_heads", crossAttentionDim = "cross_attention_dim"
        case downBlockTypes = "down_block_types", upBlockTypes = "up_block_types", midBlockType = "mid_block_type"
        case flipSinToCos = "flip_sin_to_cos", freqShift = "freq_shift", normNumGroups = "norm_num_groups"
        case normEps = "norm_eps", useLinearProjection = "use_linear_projection"
        case onlyCrossAttention = "only_cross_attention", upcastAttention = "upcast_attention"
        case downsamplePadding = "downsample_padding", transformerLayersPerBlock = "transformer_layers_per_block"
        case actFn = "act_fn", resnetTimeScaleShift = "resnet_time_scale_shift"
        case timeEmbeddingType = "time_embedding_type", classEmbedType = "class_embed_type"
        case additionEmbedType = "addition_embed_type", centerInputSample = "center_input_sample"
        case dualCrossAttention = "dual_cross_attention"
    }

    /// The SD v1.x UNet (`CompVis/stable-diffusion-v1-4`, `unet/config.json`).
    public static let sdV1 = UNetConfig(
        inChannels: 4, outChannels: 4, blockOutChannels: [320, 640, 1280, 1280], layersPerBlock: 2,
        attentionHeadDim: .same(8), numAttentionHeads: nil, crossAttentionDim: 768,
        downBlockTypes: ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
        upBlockTypes: ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
        midBlockType: "UNetMidBlock2DCrossAttn", flipSinToCos: true, freqShift: 0, normNumGroups: 32,
        normEps: 1e-5, useLinearProjection: false, onlyCrossAttention: false, upcastAttention: false,
        downsamplePadding: 1, transformerLayersPerBlock: 1, actFn: "silu", resnetTimeScaleShift: "default",
        timeEmbeddingType: "positional", classEmbedType: nil, additionEmbedType: nil, centerInputSample: false,
        dualCrossAttention: false)

    public init(inChannels: Int, outChannels: Int, blockOutChannels: [Int], layersPerBlock: Int,
                attentionHeadDim: PerLevel, numAttentionHeads: PerLevel?, crossAttentionDim: Int,
                downBlockTypes: [String], upBlockTypes: [String], midBlockType: String, flipSinToCos: Bool,
                freqShift: Int, normNumGroups: Int, normEps: Float, useLinearProjection: Bool,
                onlyCrossAttention: Bool, upcastAttention: Bool, downsamplePadding: Int,
                transformerLayersPerBlock: Int, actFn: String, resnetTimeScaleShift: String,
                timeEmbeddingType: String, classEmbedType: String?, additionEmbedType: String?,
                centerInputSample: Bool, dualCrossAttention: Bool) {
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.blockOutChannels = blockOutChannels
        self.layersPerBlock = layersPerBlock
        self.attentionHeadDim = attentionHeadDim
        self.numAttentionHeads = numAttentionHeads
        self.crossAttentionDim = crossAttentionDim
        self.downBlockTypes = downBlockTypes
        self.upBlockTypes = upBlockTypes
        self.midBlockType = midBlockType
        self.flipSinToCos = flipSinToCos
        self.freqShift = freqShift
        self.normNumGroups = normNumGroups
        self.normEps = normEps
        self.useLinearProjection = useLinearProjection
        self.onlyCrossAttention = onlyCrossAttention
        self.upcastAttention = upcastAttention
        self.downsamplePadding = downsamplePadding
        self.transformerLayersPerBlock = transformerLayersPerBlock
        self.actFn = actFn
        self.resnetTimeScaleShift = resnetTimeScaleShift
        self.timeEmbeddingType = timeEmbeddingType
        self.classEmbedType = classEmbedType
        self.additionEmbedType = additionEmbedType
        self.centerInputSample = centerInputSample
        self.dualCrossAttention = dualCrossAttention
    }

    /// Missing keys take diffusers' `UNet2DConditionModel.__init__` defaults.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = UNetConfig.sdV1
        inChannels = try c.decodeIfPresent(Int.self, forKey: .inChannels) ?? d.inChannels
        outChannels = try c.decodeIfPresent(Int.self, forKey: .outChannels) ?? d.outChannels
        blockOutChannels = try c.decodeIfPresent([Int].self, forKey: .blockOutChannels) ?? d.blockOutChannels
        layersPerBlock = try c.decodeIfPresent(Int.self, forKey: .layersPerBlock) ?? d.layersPerBlock
        attentionHeadDim = try c.decodeIfPresent(PerLevel.self, forKey: .attentionHeadDim) ?? d.attentionHeadDim
        numAttentionHeads = try c.decodeIfPresent(PerLevel.self, forKey: .numAttentionHeads)
        crossAttentionDim = try c.decodeIfPresent(Int.self, forKey: .crossAttentionDim) ?? 1280
        downBlockTypes = try c.decodeIfPresent([String].self, forKey: .downBlockTypes) ?? d.downBlockTypes
        upBlockTypes = try c.decodeIfPresent([String].self, forKey: .upBlockTypes) ?? d.upBlockTypes
        midBlockType = try c.decodeIfPresent(String.self, forKey: .midBlockType) ?? d.midBlockType
        flipSinToCos = try c.decodeIfPresent(Bool.self, forKey: .flipSinToCos) ?? true
        freqShift = try c.decodeIfPresent(Int.self, forKey: .freqShift) ?? 0
        normNumGroups = try c.decodeIfPresent(Int.self, forKey: .normNumGroups) ?? 32
        normEps = try c.decodeIfPresent(Float.self, forKey: .normEps) ?? 1e-5
        useLinearProjection = try c.decodeIfPresent(Bool.self, forKey: .useLinearProjection) ?? false
        onlyCrossAttention = try c.decodeIfPresent(Bool.self, forKey: .onlyCrossAttention) ?? false
        upcastAttention = try c.decodeIfPresent(Bool.self, forKey: .upcastAttention) ?? false
        downsamplePadding = try c.decodeIfPresent(Int.self, forKey: .downsamplePadding) ?? 1
        transformerLayersPerBlock = try c.decodeIfPresent(Int.self, forKey: .transformerLayersPerBlock) ?? 1
        actFn = try c.decodeIfPresent(String.self, forKey: .actFn) ?? "silu"
        resnetTimeScaleShift = try c.decodeIfPresent(String.self, forKey: .resnetTimeScaleShift) ?? "default"
        timeEmbeddingType = try c.decodeIfPresent(String.self, forKey: .timeEmbeddingType) ?? "positional"
        classEmbedType = try c.decodeIfPresent(String.self, forKey: .classEmbedType)
        additionEmbedType = try c.decodeIfPresent(String.self, forKey: .additionEmbedType)
        centerInputSample = try c.decodeIfPresent(Bool.self, forKey: .centerInputSample) ?? false
        dualCrossAttention = try c.decodeIfPresent(Bool.self, forKey: .dualCrossAttention) ?? false
    }

    public init(contentsOf url: URL) throws {
        self = try decodeConfig(UNetConfig.self, from: url)
    }

    var levels: Int { blockOutChannels.count }

    /// Heads per level (diffusers: `num_attention_heads or attention_head_dim`).
    func headsPerLevel() throws -> [Int] {
        if let numAttentionHeads { return try numAttentionHeads.values(levels: levels, key: "num_attention_heads") }
        return try attentionHeadDim.values(levels: levels, key: "attention_head_dim")
    }

    /// Throws `ConfigError` for anything outside the SD v1/v2 family this port implements.
    public func validate() throws {
        let downTypes = ["CrossAttnDownBlock2D", "DownBlock2D"], upTypes = ["CrossAttnUpBlock2D", "UpBlock2D"]
        try require(!blockOutChannels.isEmpty, key: "block_out_channels", value: "[]", supported: "one or more levels")
        let heads = try headsPerLevel()
        try requirePositive(blockOutChannels.enumerated().map { ("block_out_channels[\($0)]", $1) }
            + [("in_channels", inChannels), ("out_channels", outChannels), ("layers_per_block", layersPerBlock),
               ("cross_attention_dim", crossAttentionDim), ("norm_num_groups", normNumGroups)]
            + heads.map { (numAttentionHeads == nil ? "attention_head_dim" : "num_attention_heads", $0) })
        try require(downBlockTypes.count == levels && downBlockTypes.allSatisfy(downTypes.contains),
                    key: "down_block_types", value: "\(downBlockTypes)", supported: "\(levels) of \(downTypes)")
        try require(upBlockTypes.count == levels && upBlockTypes.allSatisfy(upTypes.contains),
                    key: "up_block_types", value: "\(upBlockTypes)", supported: "\(levels) of \(upTypes)")
        try require(midBlockType == "UNetMidBlock2DCrossAttn", key: "mid_block_type", value: midBlockType,
                    supported: "UNetMidBlock2DCrossAttn")
        try require(blockOutChannels.allSatisfy { $0 % normNumGroups == 0 }, key: "norm_num_groups",
                    value: "\(normNumGroups)", supported: "a divisor of every block_out_channels entry")
        try require(downsamplePadding == 1, key: "downsample_padding", value: "\(downsamplePadding)", supported: "1")
        try require(!onlyCrossAttention, key: "only_cross_attention", value: "true", supported: "false")
        try require(!dualCrossAttention, key: "dual_cross_attention", value: "true", supported: "false")
        try require(transformerLayersPerBlock == 1, key: "transformer_layers_per_block",
                    value: "\(transformerLayersPerBlock)", supported: "1")
        try require(actFn == "silu", key: "act_fn", value: actFn, supported: "silu")
        try require(resnetTimeScaleShift == "default", key: "resnet_time_scale_shift", value: resnetTimeScaleShift,
                    supported: "default")
        try require(timeEmbeddingType == "positional", key: "time_embedding_type", value: timeEmbeddingType,
                    supported: "positional")
        try require(classEmbedType == nil, key: "class_embed_type", value: classEmbedType ?? "", supported: "null")
        try require(additionEmbedType == nil, key: "addition_embed_type", value: additionEmbedType ?? "",
                    supported: "null")
        try require(!centerInputSample, key: "center_input_sample", value: "true", supported: "false")
        for (level, heads) in heads.enumerated() where blockOutChannels[level] % heads != 0 {
            throw ConfigError.invalid(key: numAttentionHeads == nil ? "attention_head_dim" : "num_attention_heads",
                                      message: "\(heads) heads do not divide \(blockOutChannels[level]) channels")
        }
    }
}
