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
    // One contiguous copy per (block, tensor), split between the cores.
    let sources = tensors.map(\.pointer), spans = tensors.map { $0.shape[axis] * inner }
    let offsets = spans.indices.map { spans[..<$0].reduce(0, +) }
    let destination = result.mutablePointer, copies = outer * tensors.count
    parallelRanges(copies, costPerItem: result.count / max(copies, 1), minimumWork: parallelCopyMinimum) { range in
        for copy in range {
            let block = copy / tensors.count, index = copy % tensors.count
            (destination + block * total * inner + offsets[index]).update(from: sources[index] + block * spans[index],
                                                                           count: spans[index])
        }
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
    // Each output value sums its inputs in order, whichever core computes it.
    func reduce(_ block: Int, _ indices: Range<Int>) {
        let output = destination + block * inner
        for step in 0..<length {
            let input = source + (block * length + step) * inner
            for index in indices { output[index] += input[index] }
        }
        for index in indices { output[index] /= Float(length) }
    }
    if outer >= parallelWidth || inner == 1 {
        parallelRanges(outer, costPerItem: length * inner, minimumWork: parallelCopyMinimum) { blocks in
            for block in blocks { reduce(block, 0..<inner) }
        }
    } else {
        for block in 0..<outer {
            parallelRanges(inner, costPerItem: length, minimumWork: parallelCopyMinimum) { reduce(block, $0) }
        }
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
    let block = 32, rowBlocks = (rows + block - 1) / block
    let input = x.pointer, output = result.mutablePointer
    // Bands of 32 rows of each matrix, split between the cores.
    parallelRanges(batch * rowBlocks, costPerItem: block * columns, minimumWork: parallelCopyMinimum) { bands in
        for band in bands {
            let item = band / rowBlocks, rowStart = band % rowBlocks * block
            let source = input + item * rows * columns, destination = output + item * rows * columns
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
    // Walk the output's rows (its innermost dimension, a strided copy each) in order, the rows split
    // between the cores; each range starts from its first row's index along the outer axes.
    let innerLength = shape.last ?? 1, innerStride = strides.last ?? 1
    let rowCount = result.count / innerLength
    parallelRanges(rowCount, costPerItem: innerLength, minimumWork: parallelCopyMinimum) { rows in
        var counter = [Int](repeating: 0, count: max(x.rank - 1, 0))
        var remainder = rows.lowerBound
        for axis in stride(from: counter.count - 1, through: 0, by: -1) {
            counter[axis] = remainder % shape[axis]
            remainder /= shape[axis]
        }
        for row in rows {
            var base = 0
            for axis in 0..<counter.count { base += counter[axis] * strides[axis] }
            let written = row * innerLength
            for index in 0..<innerLength { destination[written + index] = source[base + index * innerStride] }
            var axis = counter.count - 1
            while axis >= 0 {
                counter[axis] += 1
                if counter[axis] < shape[axis] { break }
                counter[axis] = 0
                axis -= 1
            }
        }
    }
    GradientTape.note("permute", inputs: [x], output: result, pullback: permuteBackward(order))
    return result
}

/// Values below which a copy or a reduction stays on the calling thread (128 KB of floats). On a
/// 2-core Zen 5, lowering it from 2^18 to 2^15 left the attention pools' time as it was (their
/// [1280, 113] transposes and means, 1.77 -> 1.84 CPUs); smaller ones, not measured, stay on one
/// core.
let parallelCopyMinimum = 1 << 15

/// `axis` made non-negative, or nil when outside the rank.
func resolvedAxis(_ axis: Int, rank: Int) -> Int? {
    let resolved = axis < 0 ? axis + rank : axis
    return resolved >= 0 && resolved < rank ? resolved : nil
}
