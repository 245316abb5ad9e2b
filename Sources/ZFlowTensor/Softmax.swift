import Foundation

/// Matches `torch.softmax(x, dim=-1)`: max-subtracted, so large magnitudes do not overflow.
public func softmax(_ x: Tensor) -> Tensor {
    let width = x.rank == 0 ? 1 : x.shape[x.rank - 1]
    let result = x.copied()
    let values = result.mutablePointer
    parallelRanges(x.count / max(width, 1), costPerItem: width * 8) { rows in
        for row in rows { softmaxInPlace(values + row * width, count: width) }
    }
    return result
}

/// Replaces `count` values by their softmax, optionally scaling them by `scale` first.
func softmaxInPlace(_ values: UnsafeMutablePointer<Float>, count: Int, scale: Float = 1) {
    guard count > 0 else { return }
    var peak = -Float.infinity
    for index in 0..<count { peak = max(peak, values[index]) }
    // A row masked to -inf everywhere has no defined softmax; PyTorch gives NaN, and so do we.
    var total: Float = 0
    for index in 0..<count {
        let value = Foundation.exp((values[index] - peak) * scale)
        values[index] = value
        total += value
    }
    let inverse = 1 / total
    for index in 0..<count { values[index] *= inverse }
}
