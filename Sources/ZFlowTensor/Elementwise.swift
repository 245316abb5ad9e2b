/// a + b for tensors of the same shape.
public func add(_ a: Tensor, _ b: Tensor) throws -> Tensor {
    let result = try combine(a, b, "add", +)
    GradientTape.note("add", inputs: [a, b], output: result, pullback: addBackward())
    return result
}

/// a - b for tensors of the same shape.
public func sub(_ a: Tensor, _ b: Tensor) throws -> Tensor {
    let result = try combine(a, b, "sub", -)
    GradientTape.note("sub", inputs: [a, b], output: result, pullback: subBackward())
    return result
}

/// a * b (elementwise) for tensors of the same shape.
public func mul(_ a: Tensor, _ b: Tensor) throws -> Tensor {
    let result = try combine(a, b, "mul", *)
    GradientTape.note("mul", inputs: [a, b], output: result, pullback: mulBackward(a, b))
    return result
}

/// x + bias broadcast over dimension 1: bias [C] added to x [N,C,...] (or [T,C]).
public func add(_ x: Tensor, channelBias bias: Tensor) throws -> Tensor {
    guard x.rank >= 2, bias.shape == [x.shape[1]] else {
        throw ShapeError("add", "channel bias \(bias.shape) does not match dimension 1 of \(x.shape)")
    }
    let channels = x.shape[1]
    let inner = x.shape.dropFirst(2).reduce(1, *)
    let result = Tensor(uninitialized: x.shape)
    let source = x.pointer, destination = result.mutablePointer, values = bias.pointer
    parallelRanges(x.shape[0] * channels, costPerItem: inner) { planes in
        for plane in planes {
            affine(source + plane * inner, scale: 1, shift: values[plane % channels],
                   into: destination + plane * inner, count: inner)
        }
    }
    GradientTape.note("add channel bias", inputs: [x, bias], output: result, pullback: channelBiasBackward())
    return result
}

/// x * factor.
public func scaled(_ x: Tensor, by factor: Float) -> Tensor {
    let result = Tensor(uninitialized: x.shape)
    let source = x.pointer, destination = result.mutablePointer
    parallelRanges(x.count) { range in
        affine(source + range.lowerBound, scale: factor, shift: 0,
               into: destination + range.lowerBound, count: range.count)
    }
    GradientTape.note("scaled", inputs: [x], output: result, pullback: scaledBackward(factor))
    return result
}

/// Applies `operation` to matching elements of two same-shaped tensors.
private func combine(_ a: Tensor, _ b: Tensor, _ name: String,
                     _ operation: (SIMD16<Float>, SIMD16<Float>) -> SIMD16<Float>) throws -> Tensor {
    guard a.shape == b.shape else {
        throw ShapeError(name, "shapes \(a.shape) and \(b.shape) differ")
    }
    let result = Tensor(uninitialized: a.shape)
    let left = a.pointer, right = b.pointer, destination = result.mutablePointer
    parallelRanges(a.count) { range in
        var index = range.lowerBound
        while index + 16 <= range.upperBound {
            store16(operation(load16(left + index), load16(right + index)), destination + index)
            index += 16
        }
        while index < range.upperBound {
            let value = operation(SIMD16(repeating: left[index]), SIMD16(repeating: right[index]))
            destination[index] = value[0]
            index += 1
        }
    }
    return result
}
