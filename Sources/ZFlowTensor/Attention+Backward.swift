/// attention's pullback, sample by sample and head by head, with the probabilities recomputed
/// from q and k (the tape keeps no Tq x Tk matrix): P = softmax(scale q kᵀ) (causal rows cut as in
/// the forward), dV = Pᵀ g, dP = g vᵀ, dS = scale P (dP - rowsum(P dP)), dq = dS k, dk = dSᵀ q.
/// Keys and values shared by a batch receive the sum of every sample's dk and dv, in sample order.
/// Products go through `sgemm`; the row-wise steps run on both cores.
func attentionBackward(query: Tensor, key: Tensor, value: Tensor, heads: Int, causal: Bool) -> GradientTape.Pullback {
    { gradient, needed in
        let samples = query.rank == 3 ? query.shape[0] : 1, shared = key.rank == 2
        let queries = query.shape[query.rank - 2], keys = key.shape[key.rank - 2]
        let width = query.shape[query.rank - 1], valueWidth = value.shape[value.rank - 1]
        let headWidth = width / heads, valueHeadWidth = valueWidth / heads
        let scale = 1 / Float(headWidth).squareRoot()
        let dq = Tensor(zeros: query.shape), dk = Tensor(zeros: key.shape), dv = Tensor(zeros: value.shape)
        guard queries > 0, keys > 0 else { return [dq, dk, dv] }
        let probabilities = allocateFloats(queries * keys), scoreGradients = allocateFloats(queries * keys)
        defer { releaseFloats(probabilities); releaseFloats(scoreGradients) }
        let buffers = UnsafeSendableBox((probabilities, scoreGradients))
        for sample in 0..<samples {
            let keySet = shared ? 0 : sample
            // A shared set adds each later sample's dk and dv to the earlier ones'.
            let accumulate: Float = shared && sample > 0 ? 1 : 0
            let q = query.pointer + sample * queries * width, g = gradient.pointer + sample * queries * valueWidth
            let k = key.pointer + keySet * keys * width, v = value.pointer + keySet * keys * valueWidth
            let dqSample = dq.mutablePointer + sample * queries * width
            let dkSet = dk.mutablePointer + keySet * keys * width, dvSet = dv.mutablePointer + keySet * keys * valueWidth
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
                          c: dqSample + head * headWidth, ldc: width)
                }
                if needed[1] {
                    sgemm(m: keys, n: headWidth, k: queries, a: scoreGradients, lda: keys, transposeA: true, b: qHead,
                          ldb: width, c: dkSet + head * headWidth, ldc: width, beta: accumulate)
                }
                if needed[2] {
                    sgemm(m: keys, n: valueHeadWidth, k: queries, a: probabilities, lda: keys, transposeA: true,
                          b: gHead, ldb: valueWidth, c: dvSet + head * valueHeadWidth, ldc: valueWidth, beta: accumulate)
                }
            }
        }
        return [dq, dk, dv]
    }
}
