import Testing
import ZFlowTensor
import ZFlowTrain

@Suite struct GradientToolsTests {
    @Test func accumulationNeedsEveryMicroStepAndStableShapes() throws {
        var accumulator = try GradientAccumulator(microSteps: 3)
        try accumulator.add(TensorTree(["w": Tensor(shape: [2], scalars: [3, 6])]))
        try accumulator.add(TensorTree(["w": Tensor(shape: [2], scalars: [3, 0])]))
        #expect(throws: TrainingError.accumulationIncomplete(received: 2, expected: 3)) { try accumulator.take() }
        #expect(throws: TrainingError.shapeMismatch(key: "w", context: "micro-step 3 gradient", shape: [3], expected: [2])) {
            try accumulator.add(TensorTree(["w": Tensor(zeros: [3])]))
        }
        try accumulator.add(TensorTree(["w": Tensor(shape: [2], scalars: [3, 3])]))
        let third = Float(1.0 / 3.0)
        #expect(try accumulator.take()["w"]?.scalars == [3 * third + 3 * third + 3 * third, 6 * third + 0 * third + 3 * third])
        #expect(accumulator.received == 0, "take() starts the next accumulation")
        #expect(throws: TrainingError.self) { try GradientAccumulator(microSteps: 0) }
    }

    @Test func clippingScalesOnlyAboveTheLimitAndRefusesNonFiniteNorms() throws {
        let gradients = TensorTree(["a": Tensor(shape: [2], scalars: [3, 0]), "b": Tensor(shape: [1], scalars: [-4])])
        let (unclipped, norm) = try clipGradientNorm(gradients, maxNorm: 10)
        #expect(norm == 5)
        #expect(unclipped["a"]?.scalars == [3, 0] && unclipped["b"]?.scalars == [-4], "coefficient clamped to 1")
        let (clipped, _) = try clipGradientNorm(gradients, maxNorm: 1)
        let coefficient = Float(1) / (Float(5) + Float(1e-6))
        #expect(clipped["a"]?.scalars == [3 * coefficient, 0] && clipped["b"]?.scalars == [-4 * coefficient])
        #expect(gradients["a"]?.scalars == [3, 0], "the input gradients are not written")

        let broken = TensorTree(["a": Tensor(shape: [1], scalars: [1]), "z": Tensor(shape: [2], scalars: [.nan, 1])])
        #expect(throws: TrainingError.nonFiniteGradient(key: "z", context: "clip_grad_norm")) {
            try clipGradientNorm(broken, maxNorm: 1)
        }
    }

    @Test func schedulesFollowDiffusersLambdas() {
        #expect((0..<4).map(LearningRateSchedule.linearWarmup(warmupSteps: 2).multiplier) == [0, 0.5, 1, 1])
        let cosine = LearningRateSchedule.cosine(warmupSteps: 2, totalSteps: 6)
        #expect(cosine.multiplier(at: 1) == 0.5 && cosine.multiplier(at: 2) == 1)
        #expect(abs(cosine.multiplier(at: 4) - 0.5) < 1e-15 && cosine.multiplier(at: 6) == 0 && cosine.multiplier(at: 9) >= 0)
    }

    @Test func settingsTorchRejectsAreErrors() {
        #expect(throws: TrainingError.self) { try Adam(beta1: 1) }
        #expect(throws: TrainingError.self) { try Adam.adamW(learningRate: -1) }
        #expect(throws: TrainingError.self) { try SGD(momentum: 0, nesterov: true) }
        #expect(throws: TrainingError.self) { try SGD(weightDecay: -0.1) }
    }
}
