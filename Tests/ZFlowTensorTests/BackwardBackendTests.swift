import CDNNL
import Testing
@testable import ZFlowTensor
import ZFlowTestSupport

/// The convolution gradients on oneDNN's backward primitives against ZFlow's own, on shapes that
/// cross the edge cases (odd sizes, stride 2 where the forward's floor drops input rows, 1x1, one
/// row, batch 2, channel counts oneDNN blocks by 8 and 16). The tolerance is the worst-case rounding
/// of two float32 sums of n products in different orders: 2 γ_n n max|a| max|b|, γ_n = nu/(1 - nu).
/// The gradients of the same tape run are also compared bitwise with a direct call of the C shim:
/// the tape ran oneDNN's primitive, and that primitive is deterministic. Skipped where oneDNN is
/// absent unless ZFLOW_REQUIRE_ONEDNN=1.
@Suite struct BackwardBackendTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let x, weight: [Int]
        let stride, padding: Int
        let bias: Bool
        var testDescription: String { "x \(x) w \(weight) s\(stride) p\(padding)\(bias ? " bias" : "")" }
    }

    static let convolutions: [Case] = [
        Case(x: [1, 3, 7, 9], weight: [5, 3, 3, 3], stride: 1, padding: 1, bias: true),
        Case(x: [2, 4, 10, 8], weight: [6, 4, 3, 3], stride: 2, padding: 1, bias: true),
        Case(x: [2, 3, 10, 11], weight: [4, 3, 3, 3], stride: 2, padding: 0, bias: false),  // input row 9 unused
        Case(x: [1, 5, 11, 13], weight: [7, 5, 5, 5], stride: 2, padding: 2, bias: true),
        Case(x: [1, 8, 5, 7], weight: [3, 8, 1, 1], stride: 1, padding: 0, bias: true),
        Case(x: [1, 4, 5, 5], weight: [2, 4, 1, 1], stride: 2, padding: 0, bias: false),
        Case(x: [1, 2, 1, 9], weight: [3, 2, 1, 3], stride: 1, padding: 0, bias: true),
        Case(x: [2, 16, 12, 12], weight: [32, 16, 3, 3], stride: 1, padding: 1, bias: true),
    ]

    static let transposed: [Case] = [
        Case(x: [1, 4, 5, 7], weight: [4, 3, 2, 2], stride: 2, padding: 0, bias: true),
        Case(x: [2, 16, 6, 6], weight: [16, 8, 2, 2], stride: 2, padding: 0, bias: true),
        Case(x: [2, 3, 4, 4], weight: [3, 2, 3, 3], stride: 2, padding: 1, bias: false),
        Case(x: [1, 2, 1, 5], weight: [2, 3, 4, 4], stride: 2, padding: 1, bias: true),
    ]

    @Test(arguments: convolutions) func conv2dGradientsOnOneDNNMatchOwn(_ c: Case) throws {
        guard try canTest(.onednn) else { return }
        let inputs = inputs(c, outputChannels: c.weight[0])
        let forward = { try conv2d(inputs["x"]!, weight: inputs["weight"]!, bias: inputs["bias"], stride: c.stride, padding: c.padding) }
        let (own, onednn) = try gradientsOnOwnAndOneDNN(inputs, forward)
        let g = onednn.cotangent, n = c.x[0], outputPixels = g.shape[2] * g.shape[3]
        let kernelArea = c.weight[2] * c.weight[3]
        try expectClose(own, onednn.gradients, "x", terms: c.weight[0] * kernelArea, g, inputs["weight"]!, c)
        try expectClose(own, onednn.gradients, "weight", terms: n * outputPixels, g, inputs["x"]!, c)
        if c.bias { try expectClose(own, onednn.gradients, "bias", terms: n * outputPixels, g, nil, c) }

        let dx = Tensor(zeros: c.x), dW = Tensor(zeros: c.weight), db = Tensor(zeros: [c.weight[0]])
        #expect(zflow_dnnl_conv2d_backward_data(c.x[0], c.x[1], c.x[2], c.x[3], c.weight[0], c.weight[2], c.weight[3],
                                                c.stride, c.padding, g.pointer, inputs["weight"]!.pointer,
                                                dx.mutablePointer) == 0)
        #expect(zflow_dnnl_conv2d_backward_weights(c.x[0], c.x[1], c.x[2], c.x[3], c.weight[0], c.weight[2], c.weight[3],
                                                   c.stride, c.padding, inputs["x"]!.pointer, g.pointer, dW.mutablePointer,
                                                   c.bias ? db.mutablePointer : nil) == 0)
        #expect(bitwiseEqual(dx, try #require(onednn.gradients["x"])))
        #expect(bitwiseEqual(dW, try #require(onednn.gradients["weight"])))
        if c.bias { #expect(bitwiseEqual(db, try #require(onednn.gradients["bias"]))) }
    }

    @Test(arguments: transposed) func convTranspose2dGradientsOnOneDNNMatchOwn(_ c: Case) throws {
        guard try canTest(.onednn) else { return }
        let inputs = inputs(c, outputChannels: c.weight[1])
        let forward = {
            try convTranspose2d(inputs["x"]!, weight: inputs["weight"]!, bias: inputs["bias"], stride: c.stride, padding: c.padding)
        }
        let (own, onednn) = try gradientsOnOwnAndOneDNN(inputs, forward)
        let g = onednn.cotangent, n = c.x[0], kernelArea = c.weight[2] * c.weight[3]
        try expectClose(own, onednn.gradients, "x", terms: c.weight[1] * kernelArea, g, inputs["weight"]!, c)
        try expectClose(own, onednn.gradients, "weight", terms: n * c.x[2] * c.x[3], g, inputs["x"]!, c)
        if c.bias { try expectClose(own, onednn.gradients, "bias", terms: n * g.shape[2] * g.shape[3], g, nil, c) }

        let dW = Tensor(zeros: c.weight), db = Tensor(zeros: [c.weight[1]])
        #expect(zflow_dnnl_deconv2d_backward_weights(c.x[0], c.x[1], c.x[2], c.x[3], c.weight[1], c.weight[2],
                                                     c.weight[3], c.stride, c.padding, inputs["x"]!.pointer, g.pointer,
                                                     dW.mutablePointer, c.bias ? db.mutablePointer : nil) == 0)
        #expect(bitwiseEqual(dW, try #require(onednn.gradients["weight"])))
        if c.bias { #expect(bitwiseEqual(db, try #require(onednn.gradients["bias"]))) }
    }

    /// The pullbacks note the backward ops they ran under the backend forced for them: oneDNN's
    /// primitives when oneDNN is forced, ZFlow's own when OpenBLAS is (it has no convolutions).
    @Test func theBackwardOpsRunOnTheForcedBackend() throws {
        let c = Self.convolutions[0], t = Self.transposed[0]
        let convolution = inputs(c, outputChannels: c.weight[0]), transposedInputs = inputs(t, outputChannels: t.weight[1])
        let ops: [KernelOp] = [.conv2dBackwardData, .conv2dBackwardWeights, .convTranspose2dBackwardWeights]
        for backend in [KernelBackend.onednn, .openblas, .own] {
            guard try canTest(backend) else { continue }
            let decisions = KernelDecisions()
            try KernelTuner.$decisions.withValue(decisions) {
                _ = try gradients(convolution, on: backend) {
                    try conv2d(convolution["x"]!, weight: convolution["weight"]!, bias: convolution["bias"], stride: c.stride,
                               padding: c.padding)
                }
                _ = try gradients(transposedInputs, on: backend) {
                    try convTranspose2d(transposedInputs["x"]!, weight: transposedInputs["weight"]!, bias: transposedInputs["bias"],
                                        stride: t.stride, padding: t.padding)
                }
            }
            for op in ops { #expect(decisions.summary(op) == (backend == .onednn ? "onednn" : "own"), "\(op) forced \(backend)") }
        }
    }

    private func inputs(_ c: Case, outputChannels: Int) -> [String: Tensor] {
        var inputs = ["x": randomTensor(c.x, seed: 1), "weight": randomTensor(c.weight, seed: 2)]
        if c.bias { inputs["bias"] = randomTensor([outputChannels], seed: 3) }
        return inputs
    }

    /// The gradients of sum(forward() * cotangent) for every input, on `backend`, and the cotangent.
    private func gradients(_ inputs: [String: Tensor], on backend: KernelBackend,
                           _ forward: () throws -> Tensor) throws -> (gradients: [String: Tensor], cotangent: Tensor) {
        try KernelTuner.$scopedBackend.withValue(backend) {
            let tape = GradientTape()
            var cotangent: Tensor?
            let loss = try tape.record { () throws -> Tensor in
                let output = try forward()
                let g = randomTensor(output.shape, seed: 4)
                cotangent = g
                return sum(try mul(output, g))
            }
            return (try tape.gradient(of: loss, withRespectTo: inputs), try #require(cotangent))
        }
    }

    private func gradientsOnOwnAndOneDNN(_ inputs: [String: Tensor], _ forward: () throws -> Tensor) throws
        -> (own: [String: Tensor], onednn: (gradients: [String: Tensor], cotangent: Tensor)) {
        (try gradients(inputs, on: .own, forward).gradients, try gradients(inputs, on: .onednn, forward))
    }

    /// Gradient `key` on both backends: each element is a sum of `terms` products of a factor of
    /// `a` and one of `b` (1 when nil).
    private func expectClose(_ own: [String: Tensor], _ onednn: [String: Tensor], _ key: String, terms: Int,
                             _ a: Tensor, _ b: Tensor?, _ c: Case) throws {
        func peak(_ t: Tensor) -> Float { t.scalars.reduce(0) { max($0, abs($1)) } }
        let unit = Float.ulpOfOne / 2, n = Float(terms)
        let atol = 2 * (n * unit / (1 - n * unit)) * n * peak(a) * (b.map(peak) ?? 1)
        let report = compare(try #require(onednn[key]), try #require(own[key]), atol: atol, rtol: 0, name: "d\(key) \(c.testDescription)")
        print("BACKWARD | \(c.testDescription) | d\(key) | onednn vs own | \(report.maxAbsError) | \(report.relativeToPeak) | atol \(atol)")
        #expect(report.passes, "\(report)")
    }
}
