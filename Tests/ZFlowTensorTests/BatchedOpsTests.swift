import Foundation
import Testing
@testable import ZFlowTensor
import ZFlowTestSupport

/// The ops the models run batches through: a batch gives, per sample, the values and gradients of
/// the unbatched call (bit for bit where each sample's arithmetic is the same; sums over the
/// batch within 1e-6 of their peak).
@Suite struct BatchedOpsTests {
    private func random(_ shape: [Int], seed: UInt64) -> Tensor { seededRandom(shape, seed: seed) }

    /// The gradients of sum(op(inputs) * cotangent) with respect to `inputs`, in order.
    private func gradients(_ inputs: [Tensor], cotangent: Tensor, _ op: ([Tensor]) throws -> Tensor) throws -> [Tensor] {
        let tape = GradientTape()
        let loss = try tape.record { sum(try mul(op(inputs), cotangent)) }
        let found = try tape.gradient(of: loss, withRespectTo: Dictionary(uniqueKeysWithValues: inputs.enumerated().map { ("\($0.offset)", $0.element) }))
        return try inputs.indices.map { try #require(found["\($0)"]) }
    }

    private func expectClose(_ actual: Tensor, _ expected: Tensor, _ name: String) {
        let peak = expected.buffer.reduce(Float(0)) { max($0, abs($1)) }
        let report = compare(actual, expected, atol: 1e-6 * peak, rtol: 0, name: name)
        #expect(report.passes, "\(report)")
    }

    @Test(arguments: [false, true])
    func attentionOfABatchIsEachSamplesAttention(causal: Bool) throws {
        let (samples, heads) = (3, 4)
        let q = random([samples, 29, 16], seed: 1), k = random([samples, 13, 16], seed: 2), v = random([samples, 13, 24], seed: 3)
        let cotangent = random([samples, 29, 24], seed: 4)
        func attend(_ x: [Tensor]) throws -> Tensor {
            try attention(query: x[0], key: x[1], value: x[2], heads: heads, causal: causal, queryBlock: 12)
        }
        try onEachBackend { backend in
            let batched = try attend([q, k, v])
            let batchedGradients = try gradients([q, k, v], cotangent: cotangent, attend)
            // Shared keys: one set [Tk, D] for every sample.
            let (sharedKey, sharedValue) = (k.slice(0), v.slice(0))
            let shared = try attend([q, sharedKey, sharedValue])
            let sharedGradients = try gradients([q, sharedKey, sharedValue], cotangent: cotangent, attend)
            var sharedKeySum: Tensor?, sharedValueSum: Tensor?
            for sample in 0..<samples {
                let (qs, ks, vs, gs) = (q.slice(sample), k.slice(sample), v.slice(sample), cotangent.slice(sample))
                #expect(bitwiseEqual(batched.slice(sample), try attend([qs, ks, vs])), "\(backend) sample \(sample)")
                #expect(bitwiseEqual(shared.slice(sample), try attend([qs, sharedKey, sharedValue])), "\(backend) sample \(sample)")
                let single = try gradients([qs, ks, vs], cotangent: gs, attend)
                for (index, name) in ["dq", "dk", "dv"].enumerated() {
                    #expect(bitwiseEqual(batchedGradients[index].slice(sample), single[index]), "\(backend) \(name) sample \(sample)")
                }
                let singleShared = try gradients([qs, sharedKey, sharedValue], cotangent: gs, attend)
                #expect(bitwiseEqual(sharedGradients[0].slice(sample), singleShared[0]), "\(backend) shared dq sample \(sample)")
                sharedKeySum = try sharedKeySum.map { try add($0, singleShared[1]) } ?? singleShared[1]
                sharedValueSum = try sharedValueSum.map { try add($0, singleShared[2]) } ?? singleShared[2]
            }
            expectClose(sharedGradients[1], try #require(sharedKeySum), "shared dk (\(backend))")
            expectClose(sharedGradients[2], try #require(sharedValueSum), "shared dv (\(backend))")
        }
    }

    @Test func transposeOfABatchTransposesEachSample() throws {
        let x = random([3, 37, 41], seed: 5), cotangent = random([3, 41, 37], seed: 6)
        let batched = transpose(x), dx = try gradients([x], cotangent: cotangent) { transpose($0[0]) }[0]
        #expect(batched.shape == [3, 41, 37])
        for sample in 0..<3 {
            #expect(bitwiseEqual(batched.slice(sample), transpose(x.slice(sample))))
            #expect(bitwiseEqual(dx.slice(sample), transpose(cotangent.slice(sample))))
        }
    }

    @Test func aChannelBiasPerSampleIsEachSamplesBias() throws {
        let x = random([2, 5, 7, 3], seed: 7), bias = random([2, 5], seed: 8), cotangent = random([2, 5, 7, 3], seed: 9)
        let batched = try add(x, channelBias: bias)
        let batchedGradients = try gradients([x, bias], cotangent: cotangent) { try add($0[0], channelBias: $0[1]) }
        for sample in 0..<2 {
            let xs = x.slice(sample..<sample + 1), bs = bias.slice(sample), gs = cotangent.slice(sample..<sample + 1)
            #expect(bitwiseEqual(batched.slice(sample..<sample + 1), try add(xs, channelBias: bs)))
            let single = try gradients([xs, bs], cotangent: gs) { try add($0[0], channelBias: $0[1]) }
            #expect(bitwiseEqual(batchedGradients[0].slice(sample..<sample + 1), single[0]))
            #expect(bitwiseEqual(batchedGradients[1].slice(sample), single[1]))
        }
    }

    @Test func aBroadcastAddAddsToEverySampleAndSumsTheGradient() throws {
        let x = random([3, 4, 6], seed: 10), y = random([4, 6], seed: 11), cotangent = random([3, 4, 6], seed: 12)
        let batched = try add(x, broadcasting: y)
        let batchedGradients = try gradients([x, y], cotangent: cotangent) { try add($0[0], broadcasting: $0[1]) }
        var ySum: Tensor?
        for sample in 0..<3 {
            #expect(bitwiseEqual(batched.slice(sample), try add(x.slice(sample), y)))
            #expect(bitwiseEqual(batchedGradients[0].slice(sample), cotangent.slice(sample)))
            ySum = try ySum.map { try add($0, cotangent.slice(sample)) } ?? cotangent.slice(sample)
        }
        expectClose(batchedGradients[1], try #require(ySum), "dy")
    }

    @Test func batchShapesThatDoNotFitNameTheShapes() {
        func expectShapeError(_ shapes: [[Int]], _ body: () throws -> Tensor) {
            do {
                let result = try body()
                Issue.record("expected a ShapeError, got a tensor \(result.shape)")
            } catch let error as ShapeError {
                for shape in shapes { #expect("\(error)".contains("\(shape)"), "\(error) should name \(shape)") }
            } catch {
                Issue.record("expected a ShapeError, got \(error)")
            }
        }
        // Keys of another batch size, keys batched for an unbatched query, keys and values of different batching.
        expectShapeError([[3, 5, 8], [2, 4, 8], [2, 4, 8]]) {
            try attention(query: Tensor(zeros: [3, 5, 8]), key: Tensor(zeros: [2, 4, 8]), value: Tensor(zeros: [2, 4, 8]), heads: 2)
        }
        expectShapeError([[5, 8], [1, 4, 8]]) {
            try attention(query: Tensor(zeros: [5, 8]), key: Tensor(zeros: [1, 4, 8]), value: Tensor(zeros: [1, 4, 8]), heads: 2)
        }
        expectShapeError([[2, 5, 8], [4, 8], [2, 4, 8]]) {
            try attention(query: Tensor(zeros: [2, 5, 8]), key: Tensor(zeros: [4, 8]), value: Tensor(zeros: [2, 4, 8]), heads: 2)
        }
        expectShapeError([[3, 4], [2, 4, 5, 5]]) { try add(Tensor(zeros: [2, 4, 5, 5]), channelBias: Tensor(zeros: [3, 4])) }
        expectShapeError([[4, 5], [2, 5, 4]]) { try add(Tensor(zeros: [2, 5, 4]), broadcasting: Tensor(zeros: [4, 5])) }
    }
}

