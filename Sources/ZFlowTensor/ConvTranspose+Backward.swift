import CDNNL

/// convTranspose2d's pullback: dx is the convolution of g with the same weight (read as
/// [O = Cin, C = Cout, kh, kw]), whose output size is exactly x's, on conv2d's tuned backend;
/// dW = sum over images of x [Cin, H*W] x unfold(g)ᵀ and db = the channel sums of g, on the backend
/// the tuner chose for them.
func convTranspose2dBackward(_ x: Tensor, weight: Tensor, hasBias: Bool, stride: Int, padding: Int) -> GradientTape.Pullback {
    { gradient, needed in
        let inputGradient = needed[0]
            ? try conv2d(gradient, weight: weight, bias: nil, stride: stride, padding: padding) : nil
        let unfolding = ConvGeometry(channels: weight.shape[1], height: gradient.shape[2], width: gradient.shape[3],
                                     kernelHeight: weight.shape[2], kernelWidth: weight.shape[3], stride: stride, padding: padding)
        let (weightGradient, biasGradient) = parameterGradients(
            .convTranspose2dBackwardWeights, x: x, weight: weight, stride: stride, padding: padding, gradient: gradient,
            work: x.count * unfolding.patchSize, hasBias: hasBias, needed: needed,
            own: { unfoldedProducts(x, times: gradient, geometry: unfolding, shape: weight.shape) },
            onednn: { dW, db in
                zflow_dnnl_deconv2d_backward_weights(x.shape[0], x.shape[1], x.shape[2], x.shape[3], weight.shape[1],
                                                     weight.shape[2], weight.shape[3], stride, padding, x.pointer,
                                                     gradient.pointer, dW, db) == 0
            })
        return hasBias ? [inputGradient, weightGradient, biasGradient] : [inputGradient, weightGradient]
    }
}
