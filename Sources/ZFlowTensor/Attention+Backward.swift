/// attention's pullback, head by head, with the probabilities recomputed from q and k (the tape
/// keeps no Tq x Tk matrix): P = softmax(scale q kᵀ) (causal rows cut as in the forward),
/// dV = Pᵀ g, dP = g vᵀ, dS = scale P (dP - rowsum(P dP)), dq = dS k, dk = dSᵀ q.
/// Products go through `sgemm`; the row-wise steps run on both cores.
func attentionBackward(query: Tensor, key: Tensor, value: Tensor, heads: Int, causal: Bool) -> GradientTape.Pullback {
    { gradient, needed in
        let queries = query.shape[0], keys = key.shape[0]
        let width = query.shape[1], valueWidth = value.shape[1]
        let headWidth = width / heads, valueHeadWidth = valueWidth / heads
        let scale = 1 / Float(headWidth).squareRoot()
        let dq = Tensor(zeros: query.shape), dk = Tensor(zeros: key.shape), dv = Tensor(zeros: value.shape)
        guard queries > 0, keys > 0 else { return [dq, dk, dv] }
        let probabilities = allocateFloats(queries * keys), scoreGradients = allocateFloats(queries * keys)
        defer { releaseFloats(probabilities); releaseFloats(scoreGradients) }
        let buffers = UnsafeSendableBox((probabilities, scoreGradients))
        let q = query.pointer, k = key.pointer, v = value.pointer, g = gradient.pointer
        for head in 0..<heads {
            let qHead = q + head * headWidth, kHead = k + head * headWidth
            let vHead = v + head * valueHeadWidth, gHead = g + head * valueHeadWidth
            sgemm(m: queries, n: keys, k: headWidth, a: qHead, lda: width, b: kHead, ldb: width, transposeB: true,
                  c: probabilities, ldc: keys)
            sgemm(m: queries, n: keys, k: valueHeadWidth, a: gHead, lda: valueWidth, b: vHead, ldb: valueWidth,
                  transposeB: true, c: scoreGradients, ldc: keys)
            parallelRanges(queries, costPerItem: 8 * keys) { rows in
                let (probabilities, scoreGradients) = buffers.value
                for row in rows {
                    let line = probabilities + row * keys, visible = causal ? min(keys, row + 1) : keys
                    softmaxInPlace(line, count: visible, scale: scale)
                    (line + visible).update(repeating: 0, count: keys - visible)
                    softmaxRowBackward(line, scoreGradients + row * keys, count: keys, scale: scale,
                                       into: scoreGradients + row * keys)
                }
            }
            if needed[0] {
                sgemm(m: queries, n: headWidth, k: keys, a: scoreGradients, lda: keys, b: kHead, ldb: width,
                      c: dq.mutablePointer + head * headWidth, ldc: width)
            }
            if needed[1] {
                sgemm(m: keys, n: headWidth, k: queries, a: scoreGradients, lda: keys, transposeA: true, b: qHead, ldb: width,
                      c: dk.mutablePointer + head * headWidth, ldc: width)
            }
            if needed[2] {
                sgemm(m: keys, n: valueHeadWidth, k: queries, a: probabilities, lda: keys, transposeA: true,
                      b: gHead, ldb: valueWidth, c: dv.mutablePointer + head * valueHeadWidth, ldc: valueWidth)
            }
        }
        return [dq, dk, dv]
    }
}
