import CDNNL

/// Which formula `gelu` uses: the exact erf form or PyTorch's tanh approximation.
public enum GELUApproximation: Sendable {
    case none
    case tanh
}

/// Matches `torch.nn.functional.silu`: x * sigmoid(x).
public func silu(_ x: Tensor) -> Tensor {
    let timing = timeOp("activation")
    defer { timing?.stop() }
    let result = tunedActivation(.silu, x) { map(x) { $0 * sigmoid16($0) } }
    GradientTape.note("silu", inputs: [x], output: result, pullback: activationBackward(.silu, x, derivative: siluDerivative16))
    return result
}

/// Matches `torch.sigmoid`.
public func sigmoid(_ x: Tensor) -> Tensor {
    let timing = timeOp("activation")
    defer { timing?.stop() }
    let result = tunedActivation(.sigmoid, x) { map(x, sigmoid16) }
    GradientTape.note("sigmoid", inputs: [x], output: result, pullback: sigmoidBackward(result))
    return result
}

/// Matches `torch.nn.functional.gelu(x, approximate=...)`.
public func gelu(_ x: Tensor, approximate: GELUApproximation = .none) -> Tensor {
    let timing = timeOp("activation")
    defer { timing?.stop() }
    let result = switch approximate {
    case .none: tunedActivation(.gelu, x) { map(x, geluErf16) }
    case .tanh: tunedActivation(.geluTanh, x) { map(x, geluTanh16) }
    }
    GradientTape.note("gelu", inputs: [x], output: result, pullback: approximate == .none
        ? activationBackward(.gelu, x, derivative: geluErfDerivative16)
        : activationBackward(.geluTanh, x, derivative: geluTanhDerivative16))
    return result
}

/// Matches CLIP's `QuickGELU`: x * sigmoid(1.702 x).
public func quickGELU(_ x: Tensor) -> Tensor {
    let timing = timeOp("activation")
    defer { timing?.stop() }
    let result = tunedActivation(.quickGELU, x) { map(x) { $0 * sigmoid16(quickGELUFactor * $0) } }
    GradientTape.note("quickGELU", inputs: [x], output: result,
                      pullback: activationBackward(.quickGELU, x, derivative: quickGELUDerivative16))
    return result
}

/// QuickGELU's factor: x * sigmoid(1.702 x).
let quickGELUFactor: Float = 1.702

/// The activations oneDNN's eltwise primitive computes as the same function as ZFlow's (its
/// gelu_erf, gelu_tanh, swish x sigmoid(alpha x) and logistic): the tuner chooses between the two.
/// `geglu` and groupNorm's fused SiLU stay ZFlow's own (oneDNN has no such fused op).
enum Activation: String {
    case silu, sigmoid, gelu, geluTanh, quickGELU

    /// oneDNN's algorithm and its alpha (swish's factor; ignored by the others).
    var eltwise: (algorithm: zflow_dnnl_activation, alpha: Float) {
        switch self {
        case .silu: (zflow_dnnl_swish, 1)
        case .quickGELU: (zflow_dnnl_swish, quickGELUFactor)
        case .gelu: (zflow_dnnl_gelu_erf, 0)
        case .geluTanh: (zflow_dnnl_gelu_tanh, 0)
        case .sigmoid: (zflow_dnnl_logistic, 0)
        }
    }

    /// The tuning key of this activation on `count` values (only their number matters).
    func key(_ count: Int) -> String { "\(rawValue) \(count)" }
}

/// `kind` on x: `own()` (ZFlow's kernel) or oneDNN's eltwise primitive, whichever the tuner chose
/// for this many values.
func tunedActivation(_ kind: Activation, _ x: Tensor, own: () -> Tensor) -> Tensor {
    tunedKernel(.activation, shape: kind.key(x.count), work: streamingWork(x.count), own: own, onednn: {
        let result = Tensor(uninitialized: x.shape)
        let (algorithm, alpha) = kind.eltwise
        return zflow_dnnl_eltwise(algorithm, alpha, x.count, x.pointer, result.mutablePointer) == 0 ? result : nil
    })
}

/// Matches diffusers `GEGLU` after its projection: the last dimension 2n is split as
/// [a | gate] and the result is a * gelu(gate), [..., n].
public func geglu(_ x: Tensor) throws -> Tensor {
    let timing = timeOp("activation")
    defer { timing?.stop() }
    guard x.rank >= 1, x.shape[x.rank - 1] % 2 == 0 else {
        throw ShapeError("geglu", "input \(x.shape) needs an even last dimension")
    }
    let width = x.shape[x.rank - 1] / 2
    let result = Tensor(uninitialized: Array(x.shape.dropLast()) + [width])
    let source = x.pointer, destination = result.mutablePointer
    parallelRanges(result.count / max(width, 1), costPerItem: width) { rows in
        for row in rows {
            let input = source + row * 2 * width
            transform(input + width, count: width, into: destination + row * width) { gate, index in
                geluErf16(gate) * load16Padded(input + index, available: width - index)
            }
        }
    }
    GradientTape.note("geglu", inputs: [x], output: result, pullback: gegluBackward(x))
    return result
}

@inline(__always) func sigmoid16(_ x: SIMD16<Float>) -> SIMD16<Float> {
    1 / (1 + exp16(-x))
}

/// 0.5 x (1 + erf(x / sqrt 2)).
@inline(__always) func geluErf16(_ x: SIMD16<Float>) -> SIMD16<Float> {
    0.5 * x * (1 + erf16(x * 0.70710678118654752))
}

/// 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), with tanh(z) = 2 sigmoid(2z) - 1.
@inline(__always) func geluTanh16(_ x: SIMD16<Float>) -> SIMD16<Float> {
    let inner = 0.79788456080286536 * (x + 0.044715 * x * x * x)
    return x * sigmoid16(2 * inner)
}

/// erf on 16 lanes: Abramowitz & Stegun 7.1.26 (absolute error below 1.5e-7), its polynomial in fused
/// multiply-adds as exp16's.
@inline(__always) func erf16(_ x: SIMD16<Float>) -> SIMD16<Float> {
    let magnitude = magnitude16(x)
    let t = 1 / (1 + 0.3275911 * magnitude)
    var p = SIMD16<Float>(repeating: -1.453152027).addingProduct(t, 1.061405429)
    p = SIMD16<Float>(repeating: 1.421413741).addingProduct(p, t)
    p = SIMD16<Float>(repeating: -0.284496736).addingProduct(p, t)
    p = SIMD16<Float>(repeating: 0.254829592).addingProduct(p, t)
    let y = SIMD16<Float>(repeating: 1).addingProduct(-p * t, exp16(-magnitude * magnitude))
    return y.replacing(with: -y, where: x .< 0)
}

/// A fresh tensor with `function` applied to every value, 16 at a time, on both cores when large.
func map(_ x: Tensor, _ function: (SIMD16<Float>) -> SIMD16<Float>) -> Tensor {
    let result = Tensor(uninitialized: x.shape)
    let source = x.pointer, destination = result.mutablePointer
    parallelRanges(x.count, costPerItem: 4) { range in
        transform(source + range.lowerBound, count: range.count, into: destination + range.lowerBound) { values, _ in
            function(values)
        }
    }
    return result
}

/// destination[i] = function(source[i...i+15], i) for i in steps of 16; the tail is padded with zeros.
@inline(__always) func transform(_ source: UnsafePointer<Float>, count: Int, into destination: UnsafeMutablePointer<Float>,
                                 _ function: (SIMD16<Float>, Int) -> SIMD16<Float>) {
    var index = 0
    while index + 16 <= count {
        store16(function(load16(source + index), index), destination + index)
        index += 16
    }
    if index < count {
        let values = function(load16Padded(source + index, available: count - index), index)
        for lane in 0..<(count - index) { destination[index + lane] = values[lane] }
    }
}

/// 16 values from `pointer`, of which only `available` (if fewer than 16) are read; the rest are 0.
@inline(__always) func load16Padded(_ pointer: UnsafePointer<Float>, available: Int) -> SIMD16<Float> {
    if available >= 16 { return load16(pointer) }
    var values = SIMD16<Float>()
    for lane in 0..<available { values[lane] = pointer[lane] }
    return values
}
