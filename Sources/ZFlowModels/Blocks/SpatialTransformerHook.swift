import ZFlowTensor

/// A change a caller makes to one spatial transformer (`Transformer2DModel`) of a UNet run,
/// passed per call to `UNet2DConditionModel.callAsFunction(..., hooks:)` under the tap number
/// of that transformer. LD-ZNet's fusion strategies are hooks; without hooks the UNet is
/// exactly diffusers'.
public protocol SpatialTransformerHook: Sendable {
    /// The transformer's input [B, C, H, W] -> the value it runs on (which is also its residual).
    func transformerInput(_ x: Tensor) throws -> Tensor
    /// Runs inside each transformer block right after the text cross-attention residual, on the
    /// block's tokens [B, H*W, inner]; returns the tokens the feed-forward step continues with.
    func afterCrossAttention(_ tokens: Tensor) throws -> Tensor
}

extension SpatialTransformerHook {
    public func transformerInput(_ x: Tensor) throws -> Tensor { x }
    public func afterCrossAttention(_ tokens: Tensor) throws -> Tensor { tokens }
}
