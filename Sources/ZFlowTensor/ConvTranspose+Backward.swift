/// convTranspose2d's pullback: dx is the convolution of g with the same weight (read as
/// [O = Cin, C = Cout, kh, kw]), whose output size is exactly x's; dW = sum over images of
/// x [Cin, H*W] x unfold(g)ᵀ; db = the channel sums of g.
func convTranspose2dBackward(_ x: Tensor, weight: Tensor, hasBias: Bool, stride: Int, padding: Int) -> GradientTape.Pullback {
    { gradient, needed in
        let inputGradient = needed[0]
            ? try conv2d(gradient, weight: weight, bias: nil, stride: stride, padding: padding) : nil
        let unfolding = ConvGeometry(channels: weight.shape[1], height: gradient.shape[2], width: gradient.shape[3],
                                     kernelHeight: weight.shape[2], kernelWidth: weight.shape[3], stride: stride, padding: padding)
        let weightGradient = needed[1] ? unfoldedProducts(x, times: gradient, geometry: unfolding, shape: weight.shape) : nil
        let biasGradient = hasBias && needed[2] ? channelSums(gradient) : nil
        return hasBias ? [inputGradient, weightGradient, biasGradient] : [inputGradient, weightGradient]
    }
}
