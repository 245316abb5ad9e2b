import Testing
@testable import ZFlowTensor
import ZFlowTestSupport

/// `GradientTape.block` on a tape that recomputes blocks: backward runs the block again and the
/// gradients are those of a tape that kept it, bit for bit.
@Suite struct RecomputationTests {
    private func random(_ shape: [Int], seed: UInt64) -> Tensor { seededRandom(shape, seed: seed) }

    @Test func aRecomputedBlockGivesTheGradientsOfAKeptOne() throws {
        let x = random([6, 40], seed: 1), w1 = random([40, 40], seed: 2), w2 = random([40, 40], seed: 3), b2 = random([40], seed: 4)
        let parameters = ["x": x, "w1": w1, "w2": w2, "b2": b2]
        // h is read by the block three times (by two ops, one of them twice) and again after it;
        // w2 is read by the block only.
        func loss() throws -> Tensor {
            let h = try linear(x, weight: w1, bias: nil)
            let y = try GradientTape.block {
                let a = try linear(h, weight: w2, bias: b2)
                return try add(mul(a, h), mul(silu(h), h))
            }
            return sum(try mul(add(y, h), y))
        }
        func run(_ tape: GradientTape) throws -> (loss: Tensor, gradients: [String: Tensor], kept: Int, ops: Int) {
            let value = try tape.record(loss)
            return (value, try tape.gradient(of: value, withRespectTo: parameters), tape.keptBytes, tape.count)
        }
        let kept = try run(GradientTape()), recomputed = try run(GradientTape(recomputingBlocks: true))
        #expect(bitwiseEqual(kept.loss, recomputed.loss))
        #expect(kept.gradients.keys.sorted() == parameters.keys.sorted())
        for key in parameters.keys.sorted() {
            #expect(bitwiseEqual(try #require(kept.gradients[key]), try #require(recomputed.gradients[key])), "\(key)")
        }
        #expect(recomputed.ops == kept.ops - 5 + 1, "the block's 5 ops are one entry")
        #expect(recomputed.kept < kept.kept, "kept \(recomputed.kept) bytes, without recomputation \(kept.kept)")
        // Outside a tape, and on a tape that keeps blocks, `block` is its body.
        #expect(bitwiseEqual(try loss(), kept.loss))
    }

    @Test func leafUsesFollowTheWalkBack() throws {
        let x = random([3], seed: 5), y = random([3], seed: 6)
        let tape = GradientTape()
        _ = try tape.record { try add(mul(x, y), x) }
        let uses = leafUses(of: tape.recordedEntries)
        // add (entry 1) reads its x, then mul (entry 0) reads x and y; mul's output is not a leaf.
        #expect(uses.map { [$0.entry, $0.slot] } == [[1, 1], [0, 0], [0, 1]])
    }
}
