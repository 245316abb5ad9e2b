import Foundation
import Testing
import ZFlowTensor
import ZFlowTestSupport
import ZFlowTrain

/// ZFlow's optimizers against torch.optim on the fixtures of tools/fixtures/optim.py: the
/// parameters, every optimizer slot and the EMA after each step, the learning rates and norms.
@Suite struct OptimizerParityTests {
    /// Per tensor, |zflow - torch| <= tolerance * scale, where scale is the larger of max|torch|
    /// and the largest gradient of that parameter in the step (a momentum buffer or an Adam
    /// moment can be a small difference of gradient-sized terms). SGD, the EMA rule and
    /// accumulation reproduce torch bit for bit; two things do not: torch's CPU sqrt (MKL VML, not
    /// correctly rounded) in Adam's denominator, and the order in which torch sums the squares
    /// of clip_grad_norm_'s norm (ZFlow sums in Double), which moves the clip coefficient by an
    /// ulp. Either gives a few ulps of the scale.
    static func tolerance(_ scenario: OptimizerScenario) -> Float {
        scenario.settings["optimizer"] == "sgd" && scenario.settings["max_norm"] == nil ? 0 : 4 * Float.ulpOfOne
    }

    @Test(arguments: OptimizerScenario.names)
    func matchesTorchStepByStep(name: String) throws {
        let scenario = try OptimizerScenario(name)
        var run = try ScenarioRun(scenario)
        let tolerance = Self.tolerance(scenario)
        var worst: Float = 0, compared = 0
        func peak(_ tensor: Tensor?) -> Float { tensor?.buffer.reduce(Float(0)) { max($0, abs($1)) } ?? 0 }
        func check(_ actual: Tensor?, _ expected: Tensor, gradientPeak: Float, _ label: String) throws {
            let actual = try #require(actual, "\(name): \(label) missing in ZFlow")
            let scale = max(peak(expected), gradientPeak)
            let report = compare(actual, expected, atol: tolerance * scale, rtol: 0, name: "\(name) \(label)")
            #expect(report.passes, "\(report)")
            worst = max(worst, scale > 0 ? report.maxAbsError / scale : report.maxAbsError)
            compared += 1
        }
        let initial = try scenario.tree("init.")
        for step in 0..<(try scenario.steps) {
            let (rate, norm) = try run.step(step)
            let torchRate = try scenario.number("lr.\(step)")
            #expect(abs(rate - torchRate) <= 1e-15 * abs(torchRate), "\(name) step \(step): lr \(rate) vs torch \(torchRate)")
            if let norm {
                let torchNorm = try scenario.file.tensor("norm.\(step)").scalars[0]
                #expect(abs(norm - torchNorm) <= 2 * torchNorm.ulp, "\(name) step \(step): total norm \(norm) vs torch \(torchNorm)")
            }
            var gradientPeaks: [String: Float] = [:]
            for micro in 0..<(try scenario.microSteps) {
                for (key, gradient) in try scenario.tree("grad.\(step).\(micro).").tensors {
                    gradientPeaks[key] = max(gradientPeaks[key] ?? 0, peak(gradient))
                }
            }
            for key in scenario.parameterKeys {
                let expected = try scenario.file.tensor("param.\(step).\(key)")
                if run.parameters.isTrainable(key) {
                    try check(run.parameters[key], expected, gradientPeak: gradientPeaks[key] ?? 0, "step \(step) \(key)")
                } else {
                    #expect(bitwiseEqual(try #require(run.parameters[key]), expected), "frozen \(key) changed")
                    #expect(bitwiseEqual(expected, try #require(initial[key])), "the fixture's frozen \(key) changed")
                }
            }
            let torchSlots = scenario.file.keys.filter { $0.hasPrefix("state.\(step).") }
            let zflowSlotCount = run.optimizer.state.slots.values.reduce(0) { $0 + $1.count }
            #expect(zflowSlotCount == torchSlots.count, "\(name) step \(step): \(zflowSlotCount) slots, torch has \(torchSlots.count)")
            for stored in torchSlots {
                let path = stored.dropFirst("state.\(step).".count)
                let dot = try #require(path.lastIndex(of: "."))
                let key = String(path[..<dot]), slot = String(path[path.index(after: dot)...])
                try check(run.optimizer.state.slots[slot]?[key], try scenario.file.tensor(stored),
                          gradientPeak: gradientPeaks[key] ?? 0, "step \(step) \(key) \(slot)")
            }
            if let ema = run.ema {
                let torchEMA = try scenario.tree("ema.\(step).")
                #expect(ema.shadow.keys == torchEMA.keys)
                for key in torchEMA.keys {
                    try check(ema.shadow[key], torchEMA[key]!, gradientPeak: 0, "step \(step) EMA \(key)")
                }
            }
        }
        #expect(compared > 0)
        print("\(name): \(compared) tensors, worst |zflow - torch| / scale = \(worst)")
    }

    /// The contract of issue 12: SGD with lr 1, momentum 0 and weight decay 0 changes every
    /// parameter by exactly minus its gradient, whatever the magnitudes.
    @Test func plainSGDSubtractsTheGradientExactly() throws {
        var generator = SeededGenerator(seed: 12)
        func randomTensor(_ shape: [Int]) -> Tensor {
            let values = (0..<Tensor.elementCount(shape)).map { _ in
                Float.random(in: -1...1, using: &generator) * Float(sign: .plus, exponent: Int.random(in: -30...30, using: &generator), significand: 1)
            }
            return Tensor(shape: shape, scalars: values)
        }
        let shapes = ["a.weight": [5, 3, 3], "a.bias": [5], "big": [70_001]]
        let initial = TensorTree(shapes.mapValues(randomTensor))
        let gradients = TensorTree(shapes.mapValues(randomTensor))
        let parameters = try TrainableParameters(initial)
        var optimizer = try SGD(learningRate: 1, momentum: 0, weightDecay: 0)
        try optimizer.step(parameters, gradients: gradients)
        for key in initial.keys {
            let before = initial[key]!.scalars, gradient = gradients[key]!.scalars, after = parameters[key]!.scalars
            let exact = zip(before, gradient).map { $0 - $1 }
            #expect(zip(after, exact).allSatisfy { $0.bitPattern == $1.bitPattern }, "\(key)")
        }
        #expect(optimizer.state.slots.isEmpty, "no momentum buffer without momentum")
    }
}

