/// a + b for tensors of the same shape.
public func add(_ a: Tensor, _ b: Tensor) throws -> Tensor {
    let timing = timeOp("elementwise")
    defer { timing?.stop() }
    let result = try combine(a, b, "add", +)
    GradientTape.note("add", inputs: [a, b], output: result, pullback: addBackward())
    return result
}

/// a - b for tensors of the same shape.
public func sub(_ a: Tensor, _ b: Tensor) throws -> Tensor {
    let timing = timeOp("elementwise")
    defer { timing?.stop() }
    let result = try combine(a, b, "sub", -)
    GradientTape.note("sub", inputs: [a, b], output: result, pullback: subBackward())
    return result
}

/// a * b (elementwise) for tensors of the same shape.
public func mul(_ a: Tensor, _ b: Tensor) throws -> Tensor {
    let timing = timeOp("elementwise")
    defer { timing?.stop() }
    let result = try combine(a, b, "mul", *)
    GradientTape.note("mul", inputs: [a, b], output: result, pullback: mulBackward(a, b))
    return result
}

/// x + bias broadcast over dimension 1: bias [C] added to x [N,C,...] (or [T,C]), or one bias
/// per sample, [N, C] (e.g. each sample's timestep embedding).
public func add(_ x: Tensor, channelBias bias: Tensor) throws -> Tensor {
    let timing = timeOp("elementwise")
    defer { timing?.stop() }
    guard x.rank >= 2, bias.shape == [x.shape[1]] || bias.shape == [x.shape[0], x.shape[1]] else {
        throw ShapeError("add", "channel bias \(bias.shape) matches neither dimension 1 nor dimensions 0 and 1 of \(x.shape)")
    }
    let channels = x.shape[1], perSample = bias.rank == 2
    let inner = x.shape.dropFirst(2).reduce(1, *)
    let result = Tensor(uninitialized: x.shape)
    let source = x.pointer, destination = result.mutablePointer, values = bias.pointer
    parallelRanges(x.shape[0] * channels, costPerItem: inner) { planes in
        for plane in planes {
            affine(source + plane * inner, scale: 1, shift: values[perSample ? plane : plane % channels],
                   into: destination + plane * inner, count: inner)
        }
    }
    GradientTape.note("add channel bias", inputs: [x, bias], output: result, pullback: channelBiasBackward(perSample: perSample))
    return result
}

/// x + y with y repeated over the leading dimensions of x: y's shape is x's without its first
/// dimensions (e.g. one positional embedding [C, T] added to each sample of [B, C, T]).
public func add(_ x: Tensor, broadcasting y: Tensor) throws -> Tensor {
    let timing = timeOp("elementwise")
    defer { timing?.stop() }
    guard y.rank <= x.rank, Array(x.shape.suffix(y.rank)) == y.shape else {
        throw ShapeError("add", "\(y.shape) is not the trailing shape of \(x.shape)")
    }
    let result = Tensor(uninitialized: x.shape)
    let repeats = x.count / max(y.count, 1)
    for item in 0..<repeats {
        let offset = item * y.count
        let slice = Tensor(shape: y.shape, storage: x.storage, offset: x.offset + offset)
        try combine(slice, y, "add", +, into: result.mutablePointer + offset)
    }
    GradientTape.note("add broadcasting", inputs: [x, y], output: result, pullback: broadcastAddBackward(y.shape, repeats: repeats))
    return result
}

/// x * factor.
public func scaled(_ x: Tensor, by factor: Float) -> Tensor {
    let timing = timeOp("elementwise")
    defer { timing?.stop() }
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
    let result = Tensor(uninitialized: a.shape)
    try combine(a, b, name, operation, into: result.mutablePointer)
    return result
}

/// `combine` into `destination` (a.count values).
private func combine(_ a: Tensor, _ b: Tensor, _ name: String,
                     _ operation: (SIMD16<Float>, SIMD16<Float>) -> SIMD16<Float>,
                     into destination: UnsafeMutablePointer<Float>) throws {
    guard a.shape == b.shape else {
        throw ShapeError(name, "shapes \(a.shape) and \(b.shape) differ")
    }
    let left = a.pointer, right = b.pointer
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
}
