import ZFlowTensor

/// Matches LD-ZNet's `AttentionPool2d` (spec section 6; `tools/ldznet_reference.py`): pools one
/// raw SD feature map [B, C, h, w] into all h*w+1 tokens [B, h*w+1, C] (the spatial mean first),
/// with a learned positional embedding and multi-head self-attention.
/// Keys: `positional_embedding` [C, S*S+1], `qkv_proj.{weight [3C, C, 1], bias}`,
/// `c_proj.{weight [C, C, 1], bias}` (1x1 Conv1d, run as linear layers on tokens).
public struct AttentionPool: Sendable {
    /// [C, S*S+1]: column 0 is the mean token's, then the S x S grid row-major.
    public let positionalEmbedding: Tensor
    let qkvProjection: Linear
    let outputProjection: Linear
    public let heads: Int

    public var channels: Int { positionalEmbedding.shape[0] }
    /// S, the side of the grid the embedding was trained on.
    public let gridSize: Int

    public init(_ weights: WeightReader, channels: Int, gridSize: Int, heads: Int) throws {
        guard heads > 0, channels % heads == 0 else {
            throw ShapeError("AttentionPool", "\(heads) heads do not divide \(channels) channels")
        }
        positionalEmbedding = try weights("positional_embedding", shape: [channels, gridSize * gridSize + 1])
        qkvProjection = try Linear(weights.scoped("qkv_proj"), inFeatures: channels, outFeatures: 3 * channels)
        outputProjection = try Linear(weights.scoped("c_proj"), inFeatures: channels, outFeatures: channels)
        self.gridSize = gridSize
        self.heads = heads
    }

    /// `feature` [B, C, h, w] -> [B, h*w+1, C].
    public func callAsFunction(_ feature: Tensor) throws -> Tensor {
        guard feature.rank == 4, feature.shape[0] >= 1, feature.shape[1] == channels else {
            throw ShapeError("AttentionPool", "feature \(feature.shape), expected [B, \(channels), h, w]")
        }
        let (batch, height, width) = (feature.shape[0], feature.shape[2], feature.shape[3])
        let grid = try feature.reshaped([batch, channels, height * width])
        let withMean = try concat([mean(grid, axis: 2).reshaped([batch, channels, 1]), grid], axis: 2)
        let embedded = try add(withMean, broadcasting: embedding(height: height, width: width))
        let qkv = try qkvProjection(transpose(embedded))  // [B, T, 3C]: q, k, v, then heads inside each
        let tokens = height * width + 1
        let columns = try permute(qkv.reshaped([batch, tokens, 3, channels]), [2, 0, 1, 3])  // [3, B, T, C]
        // q and k are each scaled by d^-1/4 in the reference; `attention` scales their product
        // by d^-1/2, the same map up to rounding.
        let attended = try attention(query: columns.slice(0), key: columns.slice(1), value: columns.slice(2),
                                     heads: heads)
        return try outputProjection(attended)
    }

    /// The embedding for an h x w grid: the stored one when the token counts agree, else the grid
    /// part resized with torch-exact bicubic (align_corners=False) and column 0 kept.
    public func embedding(height: Int, width: Int) throws -> Tensor {
        if height * width + 1 == positionalEmbedding.shape[1] { return positionalEmbedding }
        let stored = transpose(positionalEmbedding)  // [S*S+1, C]
        let grid = try transpose(stored.slice(1..<stored.shape[0]))
            .reshaped([1, channels, gridSize, gridSize])
        let resized = try resizeBicubic(grid, height: height, width: width).reshaped([channels, height * width])
        return try concat([transpose(stored.slice(0..<1)), resized], axis: 1)
    }
}
