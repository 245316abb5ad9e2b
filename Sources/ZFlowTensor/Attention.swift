import CBLAS

/// Matches `torch.nn.functional.scaled_dot_product_attention` on heads split from the channels:
/// q [Tq,D], k [Tk,D], v [Tk,Dv] -> [Tq,Dv]; head h uses channels h*D/heads ..< (h+1)*D/heads of
/// q and k and the same share of v, with scale 1/sqrt(D/heads). `causal` lets query i see keys
/// 0...i (PyTorch's `is_causal`, aligned top-left).
///
/// The work is split into (head, block of queries) items, run on both cores with single-threaded
/// sgemm; each block's scores (block x Tk) stay in cache between the two products and the softmax.
/// Heads are read in place (strided), nothing is transposed or copied.
public func attention(query: Tensor, key: Tensor, value: Tensor, heads: Int, causal: Bool = false) throws -> Tensor {
    try attention(query: query, key: key, value: value, heads: heads, causal: causal,
                  queryChunk: min(256, max(8, attentionBlockFloats / max(1, key.shape.first ?? 1))))
}

/// Score floats per work item (4 MB).
let attentionBlockFloats = 1 << 20

/// `attention` processing `queryChunk` queries of one head per work item (tests use small chunks).
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
    let blocksPerHead = (queryCount + chunk - 1) / chunk
    let q = query.pointer, k = key.pointer, v = value.pointer, out = result.mutablePointer
    let scores = UnsafeMutablePointer<Float>.allocate(capacity: chunk * keyCount)
    defer { scores.deallocate() }
    // (head, query block) items run one after another, each sgemm on OpenBLAS's own threads.
    // Running items on all cores would need sgemm switched to one thread, a process-wide
    // setting that makes concurrent sgemm calls elsewhere (other nodes, other tests) give
    // timing-dependent results.
    for item in 0..<(heads * blocksPerHead) {
        let head = item / blocksPerHead
        let firstQuery = (item % blocksPerHead) * chunk
        let rows = min(chunk, queryCount - firstQuery)
        // With `causal`, keys after the block's last query are invisible to the whole block.
        let keys = causal ? min(keyCount, firstQuery + rows) : keyCount
        sgemm(m: rows, n: keys, k: headWidth,
              a: q + firstQuery * width + head * headWidth, lda: width,
              b: k + head * headWidth, ldb: width, transposeB: true,
              c: scores, ldc: keys, alpha: scale)
        for row in 0..<rows {
            let line = scores + row * keys
            let visible = causal ? min(keys, firstQuery + row + 1) : keys
            softmaxInPlace(line, count: visible)
            (line + visible).update(repeating: 0, count: keys - visible)
        }
        sgemm(m: rows, n: valueHeadWidth, k: keys,
              a: scores, lda: keys,
              b: v + head * valueHeadWidth, ldb: valueWidth,
              c: out + firstQuery * valueWidth + head * valueHeadWidth, ldc: valueWidth)
    }
    return result
}
