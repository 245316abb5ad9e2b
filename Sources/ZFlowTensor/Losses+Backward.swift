// Pullbacks of the losses (Losses.swift), in Double per element.

/// d/dx = (1 - y) - (1 + (w - 1) y) sigmoid(-x), d/dy = -x + (w - 1) softplus(-x), both over N.
func bceWithLogitsBackward(_ logits: Tensor, target: Tensor, positiveWeight w: Double) -> GradientTape.Pullback {
    { gradient, _ in
        let factor = Double(gradient.pointer[0]) / Double(logits.count)
        let dx = Tensor(uninitialized: logits.shape), dy = Tensor(uninitialized: target.shape)
        for index in 0..<logits.count {
            let x = Double(logits.pointer[index]), y = Double(target.pointer[index])
            dx.mutablePointer[index] = Float(factor * ((1 - y) - (1 + (w - 1) * y) * logistic(-x)))
            dy.mutablePointer[index] = Float(factor * (-x + (w - 1) * softplus(-x)))
        }
        return [dx, dy]
    }
}

/// d/da = 2 (a - b) / N = -d/db.
func mseBackward(_ a: Tensor, _ b: Tensor) -> GradientTape.Pullback {
    { gradient, _ in
        let factor = 2 * Double(gradient.pointer[0]) / Double(a.count)
        let da = Tensor(uninitialized: a.shape), db = Tensor(uninitialized: b.shape)
        for index in 0..<a.count {
            let value = factor * (Double(a.pointer[index]) - Double(b.pointer[index]))
            da.mutablePointer[index] = Float(value)
            db.mutablePointer[index] = Float(-value)
        }
        return [da, db]
    }
}

/// With I = Σ p t, U = Σ p + Σ t per sample: d loss_n / d p = -(2 t (U + s) - (2 I + s)) / (U + s)²,
/// times p (1 - p) for the logits; d loss_n / d t = -(2 p (U + s) - (2 I + s)) / (U + s)²; over N.
func diceLossBackward(_ logits: Tensor, target: Tensor, smooth s: Double) -> GradientTape.Pullback {
    { gradient, _ in
        let samples = diceSums(logits, target: target)
        let size = logits.count / logits.shape[0]
        let factor = Double(gradient.pointer[0]) / Double(samples.count)
        let dx = Tensor(uninitialized: logits.shape), dt = Tensor(uninitialized: target.shape)
        for (sample, sums) in samples.enumerated() {
            let denominator = sums.union + s, numerator = 2 * sums.intersection + s
            for index in (sample * size)..<((sample + 1) * size) {
                let p = logistic(Double(logits.pointer[index])), t = Double(target.pointer[index])
                let dp = -(2 * t * denominator - numerator) / (denominator * denominator)
                dx.mutablePointer[index] = Float(factor * dp * p * (1 - p))
                dt.mutablePointer[index] = Float(factor * -(2 * p * denominator - numerator) / (denominator * denominator))
            }
        }
        return [dx, dt]
    }
}
