import Testing
import ZFlowTensor
import ZFlowTestSupport

/// Ops against direct-loop definitions and hand-computed values (no fixtures needed).
@Suite struct OpsSelfCheckTests {
    @Test func matmulWithTransposesMatchesDefinition() throws {
        let a = Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
        let b = Tensor(shape: [3, 2], scalars: [7, 8, 9, 10, 11, 12])
        #expect(try matmul(a, b).scalars == [58, 64, 139, 154])
        #expect(try matmul(transpose(a), transpose(b), transposeA: true, transposeB: true).scalars == [58, 64, 139, 154])
        let batched = try matmul(try concat([a, a], axis: 0).reshaped([2, 2, 3]), try concat([b, b], axis: 0).reshaped([2, 3, 2]))
        #expect(batched.shape == [2, 2, 2] && batched.scalars == [58, 64, 139, 154, 58, 64, 139, 154])
    }

    @Test(arguments: [(3, 1, 1, true), (3, 2, 1, false), (3, 1, 0, true), (1, 1, 0, false), (1, 2, 0, true), (4, 2, 1, true)])
    func conv2dMatchesDefinition(kernel: Int, stride: Int, padding: Int, withBias: Bool) throws {
        let x = randomTensor([2, 3, 7, 9], seed: 1)
        let w = randomTensor([5, 3, kernel, kernel], seed: 2)
        let b = withBias ? randomTensor([5], seed: 3) : nil
        let report = compare(try conv2d(x, weight: w, bias: b, stride: stride, padding: padding),
                             Naive.conv2d(x, w, b, stride: stride, padding: padding), atol: 1e-5, rtol: 1e-5, name: "conv2d")
        #expect(report.passes, "\(report)")
    }

    /// Too small to be timed, and large enough (>= 16 x 16 outputs) that the untimed rule is Winograd.
    @Test(arguments: [0, 1, 2])
    func conv2dOnLargeImagesMatchesDefinition(padding: Int) throws {
        let x = randomTensor([1, 4, 33 + padding, 35], seed: 12)
        let w = randomTensor([3, 4, 3, 3], seed: 13), b = randomTensor([3], seed: 14)
        let report = compare(try conv2d(x, weight: w, bias: b, padding: padding),
                             Naive.conv2d(x, w, b, stride: 1, padding: padding), atol: 1e-5, rtol: 1e-5, name: "conv2d large")
        #expect(report.passes, "\(report)")
    }

    @Test(arguments: [(2, 2, 0), (3, 2, 1), (4, 2, 1), (3, 1, 1)])
    func convTranspose2dMatchesDefinition(kernel: Int, stride: Int, padding: Int) throws {
        let x = randomTensor([1, 4, 5, 6], seed: 4)
        let w = randomTensor([4, 3, kernel, kernel], seed: 5)
        let b = randomTensor([3], seed: 6)
        let report = compare(try convTranspose2d(x, weight: w, bias: b, stride: stride, padding: padding),
                             Naive.convTranspose2d(x, w, b, stride: stride, padding: padding), atol: 1e-5, rtol: 1e-5, name: "convT")
        #expect(report.passes, "\(report)")
    }

    @Test(arguments: [(1, false), (4, false), (2, true)])
    func attentionMatchesDefinition(heads: Int, causal: Bool) throws {
        let q = randomTensor([6, 8], seed: 7), k = randomTensor([9, 8], seed: 8), v = randomTensor([9, 12], seed: 9)
        let report = compare(try attention(query: q, key: k, value: v, heads: heads, causal: causal),
                             Naive.attention(q, k, v, heads: heads, causal: causal), atol: 1e-5, rtol: 1e-4, name: "attention")
        #expect(report.passes, "\(report)")
    }

    @Test func normsHaveZeroMeanUnitVariance() throws {
        let x = randomTensor([1, 4, 3, 5], seed: 10)
        let ones = Tensor(repeating: 1, shape: [4]), zeros = Tensor(zeros: [4])
        let y = try groupNorm(x, groups: 2, weight: ones, bias: zeros, eps: 0)
        let group = Array(y.scalars[0..<30])
        #expect(abs(group.reduce(0, +) / 30) < 1e-6)
        #expect(abs(group.map { $0 * $0 }.reduce(0, +) / 30 - 1) < 1e-5)
        let rows = try layerNorm(try x.reshaped([15, 4]), weight: ones, bias: zeros, eps: 0)
        let row = Array(rows.scalars[4..<8])
        #expect(abs(row.reduce(0, +)) < 1e-5 && abs(row.map { $0 * $0 }.reduce(0, +) / 4 - 1) < 1e-5)
    }

    @Test func softmaxSurvivesLargeMagnitudes() {
        let y = softmax(Tensor(shape: [2, 3], scalars: [1000, 1001, 1002, -1e30, 0, 0]))
        let expected: [Float] = [0.09003057, 0.24472848, 0.66524094, 0, 0.5, 0.5]
        #expect(zip(y.scalars, expected).allSatisfy { abs($0 - $1) < 1e-6 })
    }

    @Test func activationsAtKnownPoints() throws {
        let x = Tensor(shape: [4], scalars: [-2, -0.5, 0.5, 3])
        let close = { (a: Tensor, b: [Float]) in zip(a.scalars, b).allSatisfy { abs($0 - $1) < 1e-6 } }
        #expect(close(silu(x), [-0.23840584, -0.18877033, 0.31122967, 2.8577223]))
        #expect(close(gelu(x), [-0.0455001, -0.15426879, 0.3457312, 2.9959502]))
        #expect(close(gelu(x, approximate: .tanh), [-0.04540231, -0.15428599, 0.34571401, 2.9963627]))
        #expect(close(quickGELU(x), [-0.06434137, -0.14961156, 0.35038844, 2.9819288]))
        let g = try geglu(Tensor(shape: [1, 4], scalars: [2, 3, -0.5, 3]))
        #expect(close(g, [2 * -0.15426879, 3 * 2.9959502]))
    }

    @Test func shapeOpsMoveValuesWhereTorchDoes() throws {
        let x = Tensor(shape: [2, 3], scalars: [0, 1, 2, 3, 4, 5])
        #expect(transpose(x).scalars == [0, 3, 1, 4, 2, 5])
        #expect(try permute(try x.reshaped([1, 2, 3]), [2, 0, 1]).scalars == [0, 3, 1, 4, 2, 5])
        #expect(try concat([x, x], axis: 1).scalars == [0, 1, 2, 0, 1, 2, 3, 4, 5, 3, 4, 5])
        #expect(try concat([x, x], axis: -2).shape == [4, 3])
        #expect(try mean(x, axis: 0).scalars == [1.5, 2.5, 3.5])
        #expect(try mean(x, axis: -1).scalars == [1, 4])
        #expect(upsampleNearest2x(try x.reshaped([1, 1, 2, 3])).scalars ==
                [0, 0, 1, 1, 2, 2, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 3, 3, 4, 4, 5, 5])
        #expect(try add(try x.reshaped([1, 2, 3, 1]), channelBias: Tensor(shape: [2], scalars: [10, 20])).scalars ==
                [10, 11, 12, 23, 24, 25])
        #expect(try sub(x, x).scalars == [0, 0, 0, 0, 0, 0])
        #expect(try mul(x, x).scalars == [0, 1, 4, 9, 16, 25])
        #expect(scaled(x, by: 2).scalars == [0, 2, 4, 6, 8, 10])
    }

    @Test func resizeToSameSizeIsIdentity() throws {
        let x = randomTensor([1, 2, 5, 7], seed: 11)
        #expect(try resizeBicubic(x, height: 5, width: 7).scalars == x.scalars)
    }
}
