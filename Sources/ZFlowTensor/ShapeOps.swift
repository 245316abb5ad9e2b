/// Matches `torch.cat(tensors, dim=axis)`; a negative axis counts from the end.
public func concat(_ tensors: [Tensor], axis: Int) throws -> Tensor {
    let timing = timeOp("layout copy")
    defer { timing?.stop() }
    guard let first = tensors.first else { throw ShapeError("concat", "no tensors to concatenate") }
    let shapes = tensors.map(\.shape)
    guard let axis = resolvedAxis(axis, rank: first.rank),
          tensors.allSatisfy({ $0.rank == first.rank
              && $0.shape.enumerated().allSatisfy { $0.offset == axis || $0.element == first.shape[$0.offset] } })
    else {
        throw ShapeError("concat", "shapes \(shapes) cannot be joined along axis \(axis)")
    }
    let outer = first.shape[..<axis].reduce(1, *)
    let inner = first.shape[(axis + 1)...].reduce(1, *)
    let total = tensors.reduce(0) { $0 + $1.shape[axis] }
    var shape = first.shape
    shape[axis] = total
    let result = Tensor(uninitialized: shape)
    var offset = 0
    for tensor in tensors {
        let span = tensor.shape[axis] * inner
        for block in 0..<outer {
            (result.mutablePointer + block * total * inner + offset).update(from: tensor.pointer + block * span, count: span)
        }
        offset += span
    }
    GradientTape.note("concat", inputs: tensors, output: result, pullback: concatBackward(shapes, axis: axis))
    return result
}

/// Matches `torch.mean(x, dim=axis)`: the axis is removed; a negative axis counts from the end.
public func mean(_ x: Tensor, axis: Int) throws -> Tensor {
    let timing = timeOp("reduction")
    defer { timing?.stop() }
    guard let axis = resolvedAxis(axis, rank: x.rank) else {
        throw ShapeError("mean", "axis \(axis) out of range for \(x.shape)")
    }
    let outer = x.shape[..<axis].reduce(1, *)
    let length = x.shape[axis]
    let inner = x.shape[(axis + 1)...].reduce(1, *)
    var shape = x.shape
    shape.remove(at: axis)
    let result = Tensor(zeros: shape)
    let source = x.pointer, destination = result.mutablePointer
    for block in 0..<outer {
        let output = destination + block * inner
        for step in 0..<length {
            let input = source + (block * length + step) * inner
            for index in 0..<inner { output[index] += input[index] }
        }
        for index in 0..<inner { output[index] /= Float(length) }
    }
    GradientTape.note("mean", inputs: [x], output: result, pullback: meanBackward(x.shape, axis: axis))
    return result
}

/// The sum of all values of `x` (accumulated in Double), shape [].
public func sum(_ x: Tensor) -> Tensor {
    let timing = timeOp("reduction")
    defer { timing?.stop() }
    var total: Double = 0
    for value in x.buffer { total += Double(value) }
    let result = Tensor(shape: [], scalars: [Float(total)])
    GradientTape.note("sum", inputs: [x], output: result, pullback: sumBackward(x.shape))
    return result
}

/// The transpose of a 2-D tensor, [R, C] -> [C, R], or of each matrix of a batch, [B, R, C] ->
/// [B, C, R] (a copy).
public func transpose(_ x: Tensor) -> Tensor {
    let timing = timeOp("layout copy")
    defer { timing?.stop() }
    precondition(x.rank == 2 || x.rank == 3, "transpose takes a 2-D tensor or a batch of them, got \(x.shape)")
    let batch = x.rank == 3 ? x.shape[0] : 1
    let rows = x.shape[x.rank - 2], columns = x.shape[x.rank - 1]
    let result = Tensor(uninitialized: Array(x.shape.dropLast(2)) + [columns, rows])
    let block = 32
    for item in 0..<batch {
        let source = x.pointer + item * rows * columns, destination = result.mutablePointer + item * rows * columns
        for rowStart in stride(from: 0, to: rows, by: block) {
            for columnStart in stride(from: 0, to: columns, by: block) {
                for row in rowStart..<min(rowStart + block, rows) {
                    for column in columnStart..<min(columnStart + block, columns) {
                        destination[column * rows + row] = source[row * columns + column]
                    }
                }
            }
        }
    }
    GradientTape.note("transpose", inputs: [x], output: result, pullback: transposeBackward())
    return result
}

/// Matches `x.permute(order)` followed by `.contiguous()`.
public func permute(_ x: Tensor, _ order: [Int]) throws -> Tensor {
    let timing = timeOp("layout copy")
    defer { timing?.stop() }
    guard order.count == x.rank, order.sorted() == Array(0..<x.rank) else {
        throw ShapeError("permute", "order \(order) is not a permutation of the axes of \(x.shape)")
    }
    let shape = order.map { x.shape[$0] }
    var sourceStrides = [Int](repeating: 1, count: x.rank)
    for axis in stride(from: x.rank - 2, through: 0, by: -1) {
        sourceStrides[axis] = sourceStrides[axis + 1] * x.shape[axis + 1]
    }
    let strides = order.map { sourceStrides[$0] }
    let result = Tensor(uninitialized: shape)
    guard result.count > 0 else { return result }
    let source = x.pointer, destination = result.mutablePointer
    // Walk the output in order, the innermost dimension as a strided copy.
    let innerLength = shape.last ?? 1, innerStride = strides.last ?? 1
    var counter = [Int](repeating: 0, count: max(x.rank - 1, 0))
    var written = 0
    while written < result.count {
        var base = 0
        for axis in 0..<counter.count { base += counter[axis] * strides[axis] }
        for index in 0..<innerLength { destination[written + index] = source[base + index * innerStride] }
        written += innerLength
        var axis = counter.count - 1
        while axis >= 0 {
            counter[axis] += 1
            if counter[axis] < shape[axis] { break }
            counter[axis] = 0
            axis -= 1
        }
    }
    GradientTape.note("permute", inputs: [x], output: result, pullback: permuteBackward(order))
    return result
}

/// `axis` made non-negative, or nil when outside the rank.
func resolvedAxis(_ axis: Int, rank: Int) -> Int? {
    let resolved = axis < 0 ? axis + rank : axis
    return resolved >= 0 && resolved < rank ? resolved : nil
}
