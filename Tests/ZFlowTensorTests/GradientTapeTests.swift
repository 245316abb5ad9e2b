import Foundation
import Testing
@testable import ZFlowTensor
import ZFlowTestSupport

/// The tape's own rules: accumulation, pruning, batches, views, and what it refuses.
@Suite struct GradientTapeTests {
    private func random(_ shape: [Int], seed: UInt64) -> Tensor {
        var generator = SeededGenerator(seed: seed)
        return Tensor(shape: shape, scalars: (0..<Tensor.elementCount(shape)).map { _ in Float.random(in: -1...1, using: &generator) })
    }

    @Test func aTensorUsedTwiceAccumulates() throws {
        let x = random([3, 5], seed: 1), w = random([3, 5], seed: 2)
        let tape = GradientTape()
        // loss = sum(x * w + x * x): d/dx = w + 2x.
        let loss = try tape.record { sum(try add(mul(x, w), mul(x, x))) }
        let gradient = try #require(try tape.gradient(of: loss, withRespectTo: ["x": x])["x"])
        for index in 0..<x.count {
            #expect(abs(gradient.pointer[index] - (w.pointer[index] + 2 * x.pointer[index])) <= 1e-6)
        }
    }

    @Test func onlyEntriesBetweenTheInputsAndTheLossRun() throws {
        let x = random([4], seed: 3), unrelated = random([4], seed: 4)
        let calls = CallLog()
        func spy(_ name: String, _ input: Tensor) -> Tensor {
            let output = scaled(input, by: 1)
            GradientTape.note(name, inputs: [input], output: output, pullback: { gradient, _ in
                calls.add(name)
                return [gradient]
            })
            return output
        }
        let tape = GradientTape()
        let loss = try tape.record { () throws -> Tensor in
            _ = spy("unrelated input", unrelated)       // does not depend on x
            _ = spy("dead end", x)                      // depends on x, does not reach the loss
            let used = spy("used", x)
            return sum(try add(used, spy("constant branch", unrelated)))
        }
        let gradients = try tape.gradient(of: loss, withRespectTo: ["x": x])
        #expect(calls.names == ["used"])
        #expect(tape.lastRunCount == 3)  // sum, add, "used"; the scaled() inside the spies recorded too but is not on the path
        #expect(gradients["x"]?.scalars == [1, 1, 1, 1])
    }

    @Test func aBatchOfTwoGivesTheSumOfTheSingleSampleGradients() throws {
        let x = random([2, 4, 9, 9], seed: 5), weight = random([6, 4, 3, 3], seed: 6), bias = random([6], seed: 7)
        let gamma = random([6], seed: 8), beta = random([6], seed: 9), cotangent = random([2, 6, 9, 9], seed: 10)
        let parameters = ["weight": weight, "bias": bias, "gamma": gamma, "beta": beta]
        func gradients(_ input: Tensor, _ cot: Tensor) throws -> [String: Tensor] {
            let tape = GradientTape()
            let loss = try tape.record {
                let features = try conv2d(input, weight: weight, bias: bias, stride: 1, padding: 1)
                return sum(try mul(try groupNorm(features, groups: 3, weight: gamma, bias: beta, eps: 1e-5, thenSiLU: true), cot))
            }
            return try tape.gradient(of: loss, withRespectTo: parameters)
        }
        try onEachBackend { backend in
            let batch = try gradients(x, cotangent)
            let first = try gradients(x.slice(0..<1), cotangent.slice(0..<1))
            let second = try gradients(x.slice(1..<2), cotangent.slice(1..<2))
            for key in parameters.keys.sorted() {
                let expected = try add(try #require(first[key]), try #require(second[key]))
                let peak = expected.buffer.reduce(Float(0)) { max($0, abs($1)) }
                let report = compare(try #require(batch[key]), expected, atol: 1e-5 * peak, rtol: 0, name: "\(key) (\(backend))")
                #expect(report.passes, "\(report)")
            }
        }
    }

    @Test func aWantedTensorReceivesTheGradientsOfItsViewsMadeBeforeRecording() throws {
        let stored = random([3, 5, 1, 1], seed: 11), x = random([2, 5], seed: 12)
        let asLinear = try stored.reshaped([3, 5])  // as the models read 1x1 conv weights
        let tape = GradientTape()
        let loss = try tape.record { sum(try linear(x, weight: asLinear, bias: nil)) }
        let gradient = try #require(try tape.gradient(of: loss, withRespectTo: ["w": stored])["w"])
        #expect(gradient.shape == [3, 5, 1, 1])
        // d/dW sum(x Wᵀ) = the column sums of x, for every output row.
        for row in 0..<3 {
            for column in 0..<5 {
                #expect(abs(gradient.pointer[row * 5 + column] - (x.pointer[column] + x.pointer[5 + column])) <= 1e-6)
            }
        }
    }

    @Test func aTensorTheLossDoesNotDependOnHasNoGradient() throws {
        let x = random([4], seed: 13), y = random([4], seed: 14)
        let tape = GradientTape()
        let loss = try tape.record { sum(silu(x)) }
        let gradients = try tape.gradient(of: loss, withRespectTo: ["x": x, "y": y])
        #expect(gradients["x"] != nil)
        #expect(gradients["y"] == nil)
    }

    @Test func opsRecordOnlyInsideRecord() throws {
        let x = random([4], seed: 15)
        let tape = GradientTape()
        _ = silu(x)
        #expect(tape.count == 0)
        _ = tape.record { silu(x) }
        #expect(tape.count == 1)
        #expect(GradientTape.current == nil)
    }

    @Test func aLossOfMoreThanOneValueIsRefused() throws {
        let x = random([4], seed: 16)
        let tape = GradientTape()
        let out = tape.record { silu(x) }
        #expect(throws: ShapeError("gradient", "the loss must hold one value, got shape [4]")) {
            try tape.gradient(of: out, withRespectTo: ["x": x])
        }
    }
}

/// Names of the pullbacks that ran, in order.
private final class CallLog: @unchecked Sendable {
    private let lock = NSLock()
    private var calls: [String] = []
    func add(_ name: String) { lock.withLock { calls.append(name) } }
    var names: [String] { lock.withLock { calls } }
}
