import ZFlowTensor

/// `zflow train`'s loss on ZNet's logits against the masks resized to the logits with
/// `maskResize`: BCE-with-logits (the reference's, the mean over every pixel; `positiveWeight` as
/// torch's `pos_weight`), plus `diceWeight` times the soft Dice loss per sample (`diceLoss`,
/// DETR's and Mask2Former's `dice_loss` with smooth 1), which rewards the overlap the evaluation
/// scores rather than each pixel on its own. The default (nearest, pos_weight 1, no Dice) is the
/// reference's loss, the one the training contract compares.
public struct SegmentationLoss: Sendable, Equatable {
    public var positiveWeight: Float?
    public var diceWeight: Float
    public var maskResize: MaskResize

    public init(positiveWeight: Float? = nil, diceWeight: Float = 0, maskResize: MaskResize = .nearest) {
        self.positiveWeight = positiveWeight
        self.diceWeight = diceWeight
        self.maskResize = maskResize
    }

    /// The loss of `logits` [N, 1, H, W] against `target` of the same shape (1 on the foreground, 0
    /// off it, fractions at edges with area resizing), recorded on the current gradient tape.
    func callAsFunction(_ logits: Tensor, target: Tensor) throws -> Tensor {
        let crossEntropy = try bceWithLogits(logits, target: target, positiveWeight: positiveWeight)
        guard diceWeight != 0 else { return crossEntropy }
        return try add(crossEntropy, scaled(diceLoss(logits, target: target), by: diceWeight))
    }
}
