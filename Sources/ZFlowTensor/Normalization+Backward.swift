import CDNNL

/// groupNorm's pullback (with the fused SiLU when `thenSiLU`). Per image n and group, with
/// x̂ = (x - mean) r and gy the gradient at the normalised-and-affine output (times SiLU' there):
/// dγ_c = Σ gy x̂, dβ_c = Σ gy, dx = r (γ gy - mean(γ gy) - x̂ mean(γ gy x̂)), means over the group.
/// The per-(n, c) sums are made in parallel and added over n in order (deterministic).
func groupNormBackward(_ x: Tensor, groups: Int, weight: Tensor, bias: Tensor, eps: Float, thenSiLU: Bool) -> GradientTape.Pullback {
    { gradient, needed in
        let batch = x.shape[0], channels = x.shape[1]
        let positions = x.shape.dropFirst(2).reduce(1, *)
        let channelsPerGroup = channels / groups, groupSize = channelsPerGroup * positions
        let dx = Tensor(uninitialized: x.shape)  // holds gy until the second pass
        let scaledSums = allocateFloats(batch * channels), sums = allocateFloats(batch * channels)  // Σ gy x̂, Σ gy
        defer { releaseFloats(scaledSums); releaseFloats(sums) }
        let source = x.pointer, upstream = gradient.pointer, destination = dx.mutablePointer
        let gamma = weight.pointer, beta = bias.pointer
        let sendable = UnsafeSendableBox((scaledSums, sums))
        parallelRanges(batch * groups, costPerItem: 4 * groupSize) { groupIndices in
            let (scaledSums, sums) = sendable.value
            for groupIndex in groupIndices {
                let start = groupIndex * groupSize
                let (mean, variance) = meanAndVariance(source + start, count: groupSize)
                let inverseStd = 1 / (variance + eps).squareRoot()
                var weightedSum: Double = 0, weightedScaledSum: Double = 0
                for local in 0..<channelsPerGroup {
                    let channel = (groupIndex % groups) * channelsPerGroup + local
                    let offset = start + local * positions
                    let input = source + offset, g = upstream + offset, gy = destination + offset
                    if thenSiLU {
                        let scale = inverseStd * gamma[channel], shift = beta[channel] - mean * scale
                        transform(input, count: positions, into: gy) { values, index in
                            load16Padded(g + index, available: positions - index) * siluDerivative16(values * scale + shift)
                        }
                    } else {
                        gy.update(from: g, count: positions)
                    }
                    var plain = SIMD16<Float>(), scaled = SIMD16<Float>()
                    var index = 0
                    while index + 16 <= positions {
                        let values = load16(gy + index)
                        plain += values
                        scaled += values * (load16(input + index) - mean) * inverseStd
                        index += 16
                    }
                    var plainTotal = Double(plain.sum()), scaledTotal = Double(scaled.sum())
                    for tail in index..<positions {
                        plainTotal += Double(gy[tail])
                        scaledTotal += Double(gy[tail] * (input[tail] - mean) * inverseStd)
                    }
                    let item = groupIndex / groups * channels + channel
                    sums[item] = Float(plainTotal)
                    scaledSums[item] = Float(scaledTotal)
                    weightedSum += Double(gamma[channel]) * plainTotal
                    weightedScaledSum += Double(gamma[channel]) * scaledTotal
                }
                guard needed[0] else { continue }
                let meanTerm = Float(weightedSum / Double(groupSize))
                let scaledMeanTerm = Float(weightedScaledSum / Double(groupSize))
                for local in 0..<channelsPerGroup {
                    let channel = (groupIndex % groups) * channelsPerGroup + local
                    let offset = start + local * positions
                    let input = source + offset, gy = destination + offset
                    let g = gamma[channel]
                    for index in 0..<positions {
                        let normalised = (input[index] - mean) * inverseStd
                        gy[index] = inverseStd * (g * gy[index] - meanTerm - normalised * scaledMeanTerm)
                    }
                }
            }
        }
        let perChannel = { (values: UnsafeMutablePointer<Float>) -> Tensor in
            columnSums(values, rows: batch, columns: channels)
        }
        return [needed[0] ? dx : nil, needed[1] ? perChannel(scaledSums) : nil, needed[2] ? perChannel(sums) : nil]
    }
}

/// layerNorm's pullback over the last dimension D, on the backend the tuner chose for this shape.
/// ZFlow's own: per row, dx = r (γ g - mean(γ g) - x̂ mean(γ g x̂)); dγ = Σ_rows g x̂, dβ = Σ_rows g
/// (column sums, deterministic). oneDNN's backward primitive takes each row's mean and variance,
/// which it does not keep between calls: they are computed here as ZFlow's kernel computes them
/// (meanAndVariance), cheaper than running oneDNN's forward again for them.
func layerNormBackward(_ x: Tensor, weight: Tensor, eps: Float) -> GradientTape.Pullback {
    { gradient, needed in
        let width = x.shape[x.rank - 1], rows = x.count / max(width, 1)
        let (dx, dWeight, dBias) = tunedKernel(.layerNormBackward, shape: rowsKey(rows, width), work: streamingWork(x.count), own: {
            ownLayerNormGradients(x, weight: weight, eps: eps, gradient: gradient, needed: needed)
        }, onednn: {
            let (mean, variance) = rowStatistics(x, width: width)
            let dx = Tensor(uninitialized: x.shape), dWeight = Tensor(uninitialized: [width]), dBias = Tensor(uninitialized: [width])
            return zflow_dnnl_layer_norm_backward(rows, width, eps, x.pointer, mean.pointer, variance.pointer, weight.pointer,
                                                  gradient.pointer, dx.mutablePointer, dWeight.mutablePointer,
                                                  dBias.mutablePointer) == 0 ? (dx, dWeight, dBias) : nil
        })
        return [needed[0] ? dx : nil, needed[1] ? dWeight : nil, needed[2] ? dBias : nil]
    }
}

/// ZFlow's own layerNorm gradients: dx always, dγ and dβ as far as `needed` asks.
private func ownLayerNormGradients(_ x: Tensor, weight: Tensor, eps: Float, gradient: Tensor,
                                   needed: [Bool]) -> (Tensor?, Tensor?, Tensor?) {
    let width = x.shape[x.rank - 1], rows = x.count / max(width, 1)
    let dx = Tensor(uninitialized: x.shape)
    let scaledGradient = Tensor(uninitialized: x.shape)  // g x̂
    let source = x.pointer, upstream = gradient.pointer, gamma = weight.pointer
    let destination = dx.mutablePointer, products = scaledGradient.mutablePointer
    parallelRanges(rows, costPerItem: 4 * width) { range in
        for row in range {
            let input = source + row * width, g = upstream + row * width
            let output = destination + row * width, product = products + row * width
            let (mean, variance) = meanAndVariance(input, count: width)
            let inverseStd = 1 / (variance + eps).squareRoot()
            var weighted: Double = 0, weightedScaled: Double = 0
            for index in 0..<width {
                let normalised = (input[index] - mean) * inverseStd
                product[index] = g[index] * normalised
                weighted += Double(gamma[index] * g[index])
                weightedScaled += Double(gamma[index] * g[index] * normalised)
            }
            let meanTerm = Float(weighted / Double(width)), scaledMeanTerm = Float(weightedScaled / Double(width))
            for index in 0..<width {
                let normalised = (input[index] - mean) * inverseStd
                output[index] = inverseStd * (gamma[index] * g[index] - meanTerm - normalised * scaledMeanTerm)
            }
        }
    }
    return (dx,
            needed[1] ? columnSums(scaledGradient.pointer, rows: rows, columns: width) : nil,
            needed[2] ? columnSums(gradient.pointer, rows: rows, columns: width) : nil)
}

/// Each row's mean and biased variance over the last `width` values, as ZFlow's layerNorm computes them.
private func rowStatistics(_ x: Tensor, width: Int) -> (mean: Tensor, variance: Tensor) {
    let rows = x.count / max(width, 1)
    let mean = Tensor(uninitialized: [rows]), variance = Tensor(uninitialized: [rows])
    let source = x.pointer, means = mean.mutablePointer, variances = variance.mutablePointer
    parallelRanges(rows, costPerItem: 2 * width) { range in
        for row in range { (means[row], variances[row]) = meanAndVariance(source + row * width, count: width) }
    }
    return (mean, variance)
}
