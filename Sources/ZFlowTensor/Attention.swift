/// Matches `torch.nn.functional.scaled_dot_product_attention` on heads split from the channels:
/// q [Tq,D], k [Tk,D], v [Tk,Dv] -> [Tq,Dv]; head h uses channels h*D/heads ..< (h+1)*D/heads of
/// q and k and the same share of v, with scale 1/sqrt(D/heads). `causal` lets query i see keys
/// 0...i (PyTorch's `is_causal`, aligned top-left).
///
/// Queries are processed in chunks so the score buffer stays under `attentionScoreBudget`.
public func attention(query: Tensor, key: Tensor, value: Tensor, heads: Int, causal: Bool = false) throws -> Tensor {
    try attention(query: query, key: key, value: value, heads: heads, causal: causal,
                  queryChunk: max(1, attentionScoreBudget / max(1, key.shape.first ?? 1)))
}

/// `attention` processing `queryChunk` queries at a time (tests use small chunks).
func attention(query: Tensor, key: Tensor, value: Tensor, heads: Int, causal: Bool, queryChunk: Int) throws -> Tensor {
    guard query.rank == 2, key.rank == 2, value.rank == 2,
          query.shape[1] == key.shape[1], key.shape[0] == value.shape[0] else {
        throw ShapeError("attention", "query \(query.shape), key \(key.shape), value \(value.shape) must be [Tq,D], [Tk,D], [Tk,Dv]")
    }
    let queryCount = query.shape[0], keyCount = key.shape[0]
    let width = query.shape[1], valueWidth = value.shape[1]
    guard heads > 0, width % heads == 0, valueWidth % heads == 0 else {
        throw ShapeError("attention", "query \(query.shape) and value \(value.shape) widths do not split into \(heads) heads")
    }
    let headWidth = width / heads, valueHeadWidth = valueWidth / heads
    let scale = 1 / Float(headWidth).squareRoot()
    let result = Tensor(uninitialized: [queryCount, valueWidth])
    guard queryCount > 0, keyCount > 0 else {
        result.mutablePointer.update(repeating: 0, count: result.count)
        return result
    }
    let chunk = max(1, min(queryCount, queryChunk))
    let scores = UnsafeMutablePointer<Float>.allocate(capacity: chunk * keyCount)
    defer { scores.deallocate() }
    for head in 0..<heads {
        var firstQuery = 0
        while firstQuery < queryCount {
            let rows = min(chunk, queryCount - firstQuery)
            sgemm(m: rows, n: keyCount, k: headWidth,
                  a: query.pointer + firstQuery * width + head * headWidth, lda: width,
                  b: key.pointer + head * headWidth, ldb: width, transposeB: true,
                  c: scores, ldc: keyCount, alpha: scale)
            normalizeScores(scores, rows: rows, keyCount: keyCount, firstQuery: firstQuery, causal: causal)
            sgemm(m: rows, n: valueHeadWidth, k: keyCount,
                  a: scores, lda: keyCount,
                  b: value.pointer + head * valueHeadWidth, ldb: valueWidth,
                  c: result.mutablePointer + firstQuery * valueWidth + head * valueHeadWidth, ldc: valueWidth)
            firstQuery += rows
        }
    }
    return result
}

/// Largest score buffer, in floats (64 MB).
let attentionScoreBudget = 1 << 24

/// Softmax over each row of scores; with `causal`, query i keeps keys 0...i and zeroes the rest.
private func normalizeScores(_ scores: UnsafeMutablePointer<Float>, rows: Int, keyCount: Int, firstQuery: Int, causal: Bool) {
    parallelRanges(rows, costPerItem: keyCount * 8) { rowRange in
        for row in rowRange {
            let line = scores + row * keyCount
            let visible = causal ? min(keyCount, firstQuery + row + 1) : keyCount
            softmaxInPlace(line, count: visible)
            (line + visible).update(repeating: 0, count: keyCount - visible)
        }
    }
}
