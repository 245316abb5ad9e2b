import Foundation

/// The `config.json` of a diffusers `AutoencoderKL`, as far as its encoder uses it.
public struct VAEConfig: Codable, Sendable, Equatable {
    public var inChannels: Int
    public var latentChannels: Int
    public var blockOutChannels: [Int]
    public var layersPerBlock: Int
    public var downBlockTypes: [String]
    public var normNumGroups: Int
    public var actFn: String
    public var midBlockAddAttention: Bool
    public var useQuantConv: Bool
    /// Informational: ZFlow takes the scale factor as a parameter of the encode step.
    public var scalingFactor: Float?

    enum CodingKeys: String, CodingKey {
        case inChannels = "in_channels", latentChannels = "latent_channels", blockOutChannels = "block_out_channels"
        case layersPerBlock = "layers_per_block", downBlockTypes = "down_block_types"
        case normNumGroups = "norm_num_groups", actFn = "act_fn", midBlockAddAttention = "mid_block_add_attention"
        case useQuantConv = "use_quant_conv", scalingFactor = "scaling_factor"
    }

    /// The SD v1.x KL autoencoder (`CompVis/stable-diffusion-v1-4`, `vae/config.json`).
    public static let sdV1 = VAEConfig(
        inChannels: 3, latentChannels: 4, blockOutChannels: [128, 256, 512, 512], layersPerBlock: 2,
        downBlockTypes: Array(repeating: "DownEncoderBlock2D", count: 4), normNumGroups: 32, actFn: "silu",
        midBlockAddAttention: true, useQuantConv: true, scalingFactor: 0.18215)

    public init(inChannels: Int, latentChannels: Int, blockOutChannels: [Int], layersPerBlock: Int,
                downBlockTypes: [String], normNumGroups: Int, actFn: String, midBlockAddAttention: Bool,
                useQuantConv: Bool, scalingFactor: Float?) {
        self.inChannels = inChannels
        self.latentChannels = latentChannels
        self.blockOutChannels = blockOutChannels
        self.layersPerBlock = layersPerBlock
        self.downBlockTypes = downBlockTypes
        self.normNumGroups = normNumGroups
        self.actFn = actFn
        self.midBlockAddAttention = midBlockAddAttention
        self.useQuantConv = useQuantConv
        self.scalingFactor = scalingFactor
    }

    /// Missing keys take diffusers' `AutoencoderKL.__init__` defaults.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        inChannels = try c.decodeIfPresent(Int.self, forKey: .inChannels) ?? 3
        latentChannels = try c.decodeIfPresent(Int.self, forKey: .latentChannels) ?? 4
        blockOutChannels = try c.decodeIfPresent([Int].self, forKey: .blockOutChannels) ?? [64]
        layersPerBlock = try c.decodeIfPresent(Int.self, forKey: .layersPerBlock) ?? 1
        downBlockTypes = try c.decodeIfPresent([String].self, forKey: .downBlockTypes)
            ?? Array(repeating: "DownEncoderBlock2D", count: blockOutChannels.count)
        normNumGroups = try c.decodeIfPresent(Int.self, forKey: .normNumGroups) ?? 32
        actFn = try c.decodeIfPresent(String.self, forKey: .actFn) ?? "silu"
        midBlockAddAttention = try c.decodeIfPresent(Bool.self, forKey: .midBlockAddAttention) ?? true
        useQuantConv = try c.decodeIfPresent(Bool.self, forKey: .useQuantConv) ?? true
        scalingFactor = try c.decodeIfPresent(Float.self, forKey: .scalingFactor)
    }

    public init(contentsOf url: URL) throws {
        self = try decodeConfig(VAEConfig.self, from: url)
    }

    var levels: Int { blockOutChannels.count }

    public func validate() throws {
        try require(!blockOutChannels.isEmpty, key: "block_out_channels", value: "[]", supported: "one or more levels")
        try requirePositive(blockOutChannels.enumerated().map { ("block_out_channels[\($0)]", $1) }
            + [("in_channels", inChannels), ("latent_channels", latentChannels), ("layers_per_block", layersPerBlock),
               ("norm_num_groups", normNumGroups)])
        try require(downBlockTypes.count == levels && downBlockTypes.allSatisfy { $0 == "DownEncoderBlock2D" },
                    key: "down_block_types", value: "\(downBlockTypes)", supported: "\(levels) x DownEncoderBlock2D")
        try require(blockOutChannels.allSatisfy { $0 % normNumGroups == 0 }, key: "norm_num_groups",
                    value: "\(normNumGroups)", supported: "a divisor of every block_out_channels entry")
        try require(actFn == "silu", key: "act_fn", value: actFn, supported: "silu")
        try require(midBlockAddAttention, key: "mid_block_add_attention", value: "false", supported: "true")
        try require(useQuantConv, key: "use_quant_conv", value: "false", supported: "true")
    }
}
