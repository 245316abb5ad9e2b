import Foundation

/// Which formula `gelu` uses: the exact erf form or PyTorch's tanh approximation.
public enum GELUApproximation: Sendable {
    case none
    case tanh
}

/// Matches `torch.nn.functional.silu`: x * sigmoid(x).
public func silu(_ x: Tensor) -> Tensor {
    map(x) { $0 / (1 + Foundation.exp(-$0)) }
}

/// Matches `torch.nn.functional.gelu(x, approximate=...)`.
public func gelu(_ x: Tensor, approximate: GELUApproximation = .none) -> Tensor {
    switch approximate {
    case .none: map(x, geluErf)
    case .tanh: map(x, geluTanh)
    }
}

/// Matches CLIP's `QuickGELU`: x * sigmoid(1.702 x).
public func quickGELU(_ x: Tensor) -> Tensor {
    map(x) { $0 / (1 + Foundation.exp(-1.702 * $0)) }
}

/// Matches diffusers `GEGLU` after its projection: the last dimension 2n is split as
/// [a | gate] and the result is a * gelu(gate), [..., n].
public func geglu(_ x: Tensor) throws -> Tensor {
    guard x.rank >= 1, x.shape[x.rank - 1] % 2 == 0 else {
        throw ShapeError("geglu", "input \(x.shape) needs an even last dimension")
    }
    let width = x.shape[x.rank - 1] / 2
    let result = Tensor(uninitialized: Array(x.shape.dropLast()) + [width])
    let source = x.pointer, destination = result.mutablePointer
    parallelRanges(result.count / max(width, 1), costPerItem: width * 8) { rows in
        for row in rows {
            let input = source + row * 2 * width, output = destination + row * width
            for index in 0..<width { output[index] = input[index] * geluErf(input[width + index]) }
        }
    }
    return result
}

@inline(__always) func geluErf(_ value: Float) -> Float {
    0.5 * value * (1 + erff(value * Float(0.5).squareRoot()))
}

@inline(__always) func geluTanh(_ value: Float) -> Float {
    let inner = Float(2 / Double.pi).squareRoot() * (value + 0.044715 * value * value * value)
    return 0.5 * value * (1 + Foundation.tanh(inner))
}

/// A fresh tensor with `transform` applied to every value.
func map(_ x: Tensor, _ transform: (Float) -> Float) -> Tensor {
    let result = Tensor(uninitialized: x.shape)
    let source = x.pointer, destination = result.mutablePointer
    parallelRanges(x.count, costPerItem: 8) { range in
        for index in range { destination[index] = transform(source[index]) }
    }
    return result
}
