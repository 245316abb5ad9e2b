/// y = x Wᵀ + b over rows: dx = g W, dW = gᵀ x, db = the column sums of g.
func linearBackward(_ x: Tensor, weight: Tensor, hasBias: Bool) -> GradientTape.Pullback {
    { gradient, needed in
        let outFeatures = weight.shape[0], inFeatures = weight.shape[1]
        let rows = x.count / max(inFeatures, 1)
        var inputGradient: Tensor?, weightGradient: Tensor?, biasGradient: Tensor?
        if needed[0] {
            let dx = Tensor(uninitialized: x.shape)
            sgemm(m: rows, n: inFeatures, k: outFeatures, a: gradient.pointer, lda: outFeatures,
                  b: weight.pointer, ldb: inFeatures, c: dx.mutablePointer, ldc: inFeatures)
            inputGradient = dx
        }
        if needed[1] {
            let dw = Tensor(uninitialized: weight.shape)
            sgemm(m: outFeatures, n: inFeatures, k: rows, a: gradient.pointer, lda: outFeatures, transposeA: true,
                  b: x.pointer, ldb: inFeatures, c: dw.mutablePointer, ldc: inFeatures)
            weightGradient = dw
        }
        if hasBias, needed[2] { biasGradient = columnSums(gradient.pointer, rows: rows, columns: outFeatures) }
        return hasBias ? [inputGradient, weightGradient, biasGradient] : [inputGradient, weightGradient]
    }
}
