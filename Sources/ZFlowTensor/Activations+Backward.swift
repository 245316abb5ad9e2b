// Pullbacks of the activations (Activations.swift): the gradient times the derivative at the input.
import CDNNL

/// Pullback of the activation `kind`, from its derivative at the input x.
func activationBackward(_ kind: Activation, _ x: Tensor,
                        derivative: @escaping @Sendable (SIMD16<Float>) -> SIMD16<Float>) -> GradientTape.Pullback {
    { gradient, _ in
        [tunedActivationGradient(kind, data: x, gradient) {
            zipMap(x, gradient) { values, gradients in gradients * derivative(values) }
        }]
    }
}

/// dx of the activation `kind`: `own()` (ZFlow's kernel) or oneDNN's eltwise backward primitive
/// from `data` (the input; the output for sigmoid), whichever the tuner chose for this many values.
func tunedActivationGradient(_ kind: Activation, data: Tensor, _ gradient: Tensor, own: () -> Tensor) -> Tensor {
    tunedKernel(.activationBackward, shape: kind.key(data.count), work: streamingWork(data.count), own: own, onednn: {
        let dx = Tensor(uninitialized: data.shape)
        let (algorithm, alpha) = kind.eltwise
        return zflow_dnnl_eltwise_backward(algorithm, alpha, data.count, data.pointer, gradient.pointer,
                                           dx.mutablePointer) == 0 ? dx : nil
    })
}

/// d/dx x sigmoid(x) = s (1 + x (1 - s)).
@inline(__always) func siluDerivative16(_ x: SIMD16<Float>) -> SIMD16<Float> {
    let s = sigmoid16(x)
    return s * (1 + x * (1 - s))
}

/// d/dx x Phi(x) = Phi(x) + x phi(x).
@inline(__always) func geluErfDerivative16(_ x: SIMD16<Float>) -> SIMD16<Float> {
    0.5 * (1 + erf16(x * 0.70710678118654752)) + x * 0.39894228040143268 * exp16(-0.5 * x * x)
}

/// d/dx 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3).
@inline(__always) func geluTanhDerivative16(_ x: SIMD16<Float>) -> SIMD16<Float> {
    let k: Float = 0.79788456080286536, c: Float = 0.044715
    let squared: SIMD16<Float> = x * x
    let inner: SIMD16<Float> = k * (x + c * squared * x)
    let t: SIMD16<Float> = 2 * sigmoid16(2 * inner) - 1
    let slope: SIMD16<Float> = k * (1 + 3 * c * squared)
    let half: SIMD16<Float> = 0.5 * (1 + t)
    return half + 0.5 * x * (1 - t * t) * slope
}

/// d/dx x sigmoid(1.702 x) = s + 1.702 x s (1 - s).
@inline(__always) func quickGELUDerivative16(_ x: SIMD16<Float>) -> SIMD16<Float> {
    let s = sigmoid16(quickGELUFactor * x)
    return s + quickGELUFactor * x * s * (1 - s)
}

/// From the output y = sigmoid(x): y (1 - y).
func sigmoidBackward(_ y: Tensor) -> GradientTape.Pullback {
    { gradient, _ in
        [tunedActivationGradient(.sigmoid, data: y, gradient) {
            zipMap(y, gradient) { values, gradients in gradients * values * (1 - values) }
        }]
    }
}

/// out = a * gelu(gate) for x = [a | gate]: d a = g gelu(gate), d gate = g a gelu'(gate).
func gegluBackward(_ x: Tensor) -> GradientTape.Pullback {
    { gradient, _ in
        let width = gradient.shape[gradient.rank - 1]
        let result = Tensor(uninitialized: x.shape)
        let source = x.pointer, upstream = gradient.pointer, destination = result.mutablePointer
        parallelRanges(gradient.count / max(width, 1), costPerItem: 8 * width) { rows in
            for row in rows {
                let input = source + row * 2 * width, g = upstream + row * width
                let output = destination + row * 2 * width
                transform(input + width, count: width, into: output) { gate, index in
                    load16Padded(g + index, available: width - index) * geluErf16(gate)
                }
                transform(input + width, count: width, into: output + width) { gate, index in
                    load16Padded(g + index, available: width - index) * load16Padded(input + index, available: width - index)
                        * geluErfDerivative16(gate)
                }
            }
        }
        return [result]
    }
}
