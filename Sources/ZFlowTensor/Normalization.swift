import CDNNL

/// Matches `torch.nn.functional.group_norm`: x [N,C,...] normalized over each group of
/// C/groups channels (and all positions), then scaled by weight [C] and shifted by bias [C].
/// With `thenSiLU`, `silu` is applied to each channel while it is still in cache (the same values
/// as `silu(groupNorm(...))`, without a second pass over the tensor).
public func groupNorm(_ x: Tensor, groups: Int, weight: Tensor, bias: Tensor, eps: Float, thenSiLU: Bool = false) throws -> Tensor {
    let timing = timeOp(thenSiLU ? "group norm + SiLU" : "group norm")
    defer { timing?.stop() }
    guard x.rank >= 2, groups > 0, x.shape[1] % groups == 0 else {
        throw ShapeError("groupNorm", "input \(x.shape) has no channel count divisible into \(groups) groups")
    }
    let channels = x.shape[1]
    guard weight.shape == [channels], bias.shape == [channels] else {
        throw ShapeError("groupNorm", "weight \(weight.shape) and bias \(bias.shape) must be [\(channels)] for input \(x.shape)")
    }
    let positions = x.shape.dropFirst(2).reduce(1, *)
    let channelsPerGroup = channels / groups
    let groupSize = channelsPerGroup * positions
    let result = Tensor(uninitialized: x.shape)
    let source = x.pointer, destination = result.mutablePointer
    let gamma = weight.pointer, beta = bias.pointer
    parallelRanges(x.shape[0] * groups, costPerItem: groupSize) { groupIndices in
        for groupIndex in groupIndices {
            let start = groupIndex * groupSize
            let (mean, variance) = meanAndVariance(source + start, count: groupSize)
            let inverseStd = 1 / (variance + eps).squareRoot()
            for local in 0..<channelsPerGroup {
                let channel = (groupIndex % groups) * channelsPerGroup + local
                let scale = inverseStd * gamma[channel]
                let shift = beta[channel] - mean * scale
                let offset = start + local * positions
                affine(source + offset, scale: scale, shift: shift, into: destination + offset, count: positions)
                if thenSiLU {
                    transform(destination + offset, count: positions, into: destination + offset) { values, _ in
                        values * sigmoid16(values)
                    }
                }
            }
        }
    }
    GradientTape.note(thenSiLU ? "groupNorm+SiLU" : "groupNorm", inputs: [x, weight, bias], output: result,
                      pullback: groupNormBackward(x, groups: groups, weight: weight, bias: bias, eps: eps, thenSiLU: thenSiLU))
    return result
}

/// Matches `torch.nn.functional.layer_norm` over the last dimension with weight and bias [D], on
/// the backend the tuner chose for this shape: ZFlow's own kernel or oneDNN's layer normalization.
public func layerNorm(_ x: Tensor, weight: Tensor, bias: Tensor, eps: Float) throws -> Tensor {
    let timing = timeOp("layer norm")
    defer { timing?.stop() }
    guard x.rank >= 1 else { throw ShapeError("layerNorm", "input \(x.shape) has no last dimension") }
    let width = x.shape[x.rank - 1]
    guard weight.shape == [width], bias.shape == [width] else {
        throw ShapeError("layerNorm", "weight \(weight.shape) and bias \(bias.shape) must be [\(width)] for input \(x.shape)")
    }
    let rows = x.count / max(width, 1)
    let result = tunedKernel(.layerNorm, shape: rowsKey(rows, width), work: streamingWork(x.count), own: {
        ownLayerNorm(x, weight: weight, bias: bias, eps: eps)
    }, onednn: {
        let result = Tensor(uninitialized: x.shape)
        return zflow_dnnl_layer_norm(rows, width, eps, x.pointer, weight.pointer, bias.pointer, result.mutablePointer) == 0
            ? result : nil
    })
    GradientTape.note("layerNorm", inputs: [x, weight, bias], output: result, pullback: layerNormBackward(x, weight: weight, eps: eps))
    return result
}

/// The tuning key of a row-wise op (layerNorm, softmax and their gradients) on `rows` rows of `width`.
func rowsKey(_ rows: Int, _ width: Int) -> String { "\(rows)x\(width)" }

/// ZFlow's own layerNorm: each row's mean and variance (meanAndVariance), then the affine map.
private func ownLayerNorm(_ x: Tensor, weight: Tensor, bias: Tensor, eps: Float) -> Tensor {
    let width = x.shape[x.rank - 1]
    let result = Tensor(uninitialized: x.shape)
    let source = x.pointer, destination = result.mutablePointer
    let gamma = weight.pointer, beta = bias.pointer
    parallelRanges(x.count / max(width, 1), costPerItem: width) { rows in
        for row in rows {
            let input = source + row * width, output = destination + row * width
            let (mean, variance) = meanAndVariance(input, count: width)
            let inverseStd = 1 / (variance + eps).squareRoot()
            for index in 0..<width {
                output[index] = (input[index] - mean) * inverseStd * gamma[index] + beta[index]
            }
        }
    }
    return result
}

/// Mean and biased variance, two passes (the second around the mean, for accuracy).
func meanAndVariance(_ values: UnsafePointer<Float>, count: Int) -> (mean: Float, variance: Float) {
    let mean = sum(values, count: count) / Float(count)
    var squares = SIMD16<Float>(repeating: 0)
    var index = 0
    let center = SIMD16<Float>(repeating: mean)
    while index + 16 <= count {
        let difference = load16(values + index) - center
        squares += difference * difference
        index += 16
    }
    var total = squares.sum()
    while index < count {
        let difference = values[index] - mean
        total += difference * difference
        index += 1
    }
    return (mean, total / Float(count))
}

/// Sum in 16 lanes (pairwise-ish, better rounding than one running sum).
func sum(_ values: UnsafePointer<Float>, count: Int) -> Float {
    var lanes = SIMD16<Float>(repeating: 0)
    var index = 0
    while index + 16 <= count {
        lanes += load16(values + index)
        index += 16
    }
    var total = lanes.sum()
    while index < count {
        total += values[index]
        index += 1
    }
    return total
}

/// destination = source * scale + shift.
func affine(_ source: UnsafePointer<Float>, scale: Float, shift: Float, into destination: UnsafeMutablePointer<Float>, count: Int) {
    var index = 0
    while index + 16 <= count {
        store16(load16(source + index) * scale + shift, destination + index)
        index += 16
    }
    while index < count {
        destination[index] = source[index] * scale + shift
        index += 1
    }
}

@inline(__always) func load16(_ pointer: UnsafePointer<Float>) -> SIMD16<Float> {
    UnsafeRawPointer(pointer).loadUnaligned(as: SIMD16<Float>.self)
}

@inline(__always) func store16(_ value: SIMD16<Float>, _ pointer: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(pointer).storeBytes(of: value, as: SIMD16<Float>.self)
}

@inline(__always) func load8(_ pointer: UnsafePointer<Float>) -> SIMD8<Float> {
    UnsafeRawPointer(pointer).loadUnaligned(as: SIMD8<Float>.self)
}

@inline(__always) func store8(_ value: SIMD8<Float>, _ pointer: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(pointer).storeBytes(of: value, as: SIMD8<Float>.self)
}
