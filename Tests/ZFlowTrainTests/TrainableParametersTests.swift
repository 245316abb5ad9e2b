import Foundation
import Testing
import ZFlowIO
import ZFlowTensor
import ZFlowTrain

@Suite struct TrainableParametersTests {
    static let tree = TensorTree([
        "model.diffusion_model.input_blocks.0.0.weight": Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6]),
        "model.diffusion_model.middle_block.1.attn3.to_q.weight": Tensor(shape: [2, 2], scalars: [1, -1, 2, -2]),
        "model.diffusion_model.out.2.bias": Tensor(shape: [1], scalars: [0.5]),
    ])
    static let attn3 = "model.diffusion_model.middle_block.1.attn3.to_q.weight"

    @Test func frozenWeightsStayMappedAndTrainableOnesAreOwnedCopies() throws {
        let folder = try scratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("weights.safetensors")
        try writeSafeTensors(Self.tree.tensors, to: url)
        let file = try SafeTensorsFile(contentsOf: url)
        let loaded = try TensorTree(source: file, prefix: "model.")
        let parameters = try TrainableParameters(loaded, frozen: ["**.input_blocks.**", "**.out.**"])
        #expect(parameters.trainableKeys == [Self.attn3])
        for key in loaded.keys where key != Self.attn3 {
            #expect(parameters[key]!.storage === loaded[key]!.storage, "frozen \(key) is the mapped tensor, not a copy")
        }
        #expect(parameters[Self.attn3]!.storage !== loaded[Self.attn3]!.storage, "the trainable tensor is materialised")

        var optimizer = try SGD(learningRate: 1)
        try optimizer.step(parameters, gradients: TensorTree([Self.attn3: Tensor(repeating: 1, shape: [2, 2])]))
        #expect(parameters[Self.attn3]!.scalars == [0, -2, 1, -3])
        #expect(try SafeTensorsFile(contentsOf: url).tensor(Self.attn3).scalars == [1, -1, 2, -2], "the file is untouched")
    }

    @Test func aPatternThatMatchesNothingIsAnErrorNamingIt() throws {
        #expect(throws: TrainingError.patternMatchesNothing(pattern: "**.atn3.**", parameterCount: 3)) {
            try TrainableParameters(Self.tree, frozen: ["**.atn3.**"])
        }
        let parameters = try TrainableParameters(Self.tree)
        #expect(throws: TrainingError.patternMatchesNothing(pattern: "model.vae.**", parameterCount: 3)) {
            try parameters.freeze(["model.vae.**"])
        }
    }

    @Test func badGradientsAreErrorsAndUpdateNothing() throws {
        let parameters = try TrainableParameters(Self.tree, frozen: ["**.out.**"])
        var optimizer = try Adam.adamW()
        let good = Tensor(repeating: 1, shape: [2, 2])
        let cases: [(TensorTree, TrainingError)] = [
            (TensorTree([Self.attn3: good, "model.diffusion_model.nope": good]),
             .unknownParameter(key: "model.diffusion_model.nope", context: "gradients")),
            (TensorTree([Self.attn3: good, "model.diffusion_model.out.2.bias": Tensor(zeros: [1])]),
             .frozenParameter(key: "model.diffusion_model.out.2.bias")),
            (TensorTree([Self.attn3: Tensor(zeros: [4])]),
             .shapeMismatch(key: Self.attn3, context: "gradient", shape: [4], expected: [2, 2])),
        ]
        for (gradients, expected) in cases {
            #expect(throws: expected) { try optimizer.step(parameters, gradients: gradients) }
        }
        #expect(parameters[Self.attn3]!.scalars == [1, -1, 2, -2])
        #expect(optimizer.state.stepCount == 0 && optimizer.state.slots.isEmpty)
    }

    @Test func stateStaysWithItsParameterThroughFreezingAndMissingGradients() throws {
        let parameters = try TrainableParameters(Self.tree, frozen: ["**.attn3.**"])
        var optimizer = try Adam(learningRate: 0.1)
        let weight = "model.diffusion_model.input_blocks.0.0.weight", bias = "model.diffusion_model.out.2.bias"
        let gradients = TensorTree([weight: Tensor(repeating: 1, shape: [2, 3]), bias: Tensor(repeating: -1, shape: [1])])
        try optimizer.step(parameters, gradients: gradients)
        try optimizer.step(parameters, gradients: TensorTree([weight: gradients[weight]!]))
        #expect(optimizer.state.slots["step"]?[weight]?.scalars == [2])
        #expect(optimizer.state.slots["step"]?[bias]?.scalars == [1], "a step without its gradient skips the parameter")

        let biasBefore = parameters[bias]!.scalars
        try parameters.freeze(["**.out.**"])
        try parameters.unfreeze(["**.attn3.**"])
        #expect(parameters.trainableKeys == [Self.attn3, weight].sorted())
        try optimizer.step(parameters, gradients: TensorTree([Self.attn3: Tensor(repeating: 1, shape: [2, 2])]))
        #expect(optimizer.state.slots["step"]?[Self.attn3]?.scalars == [1])
        #expect(optimizer.state.slots["exp_avg"]?[bias] != nil, "the frozen parameter keeps its state")
        #expect(parameters[bias]!.scalars == biasBefore)
        // Adam's first step moves every element by lr (m / sqrt(v) = +-1 after bias correction).
        #expect(parameters[Self.attn3]!.scalars.enumerated().allSatisfy { abs($1 - ([1, -1, 2, -2][$0] - 0.1)) < 1e-6 })
    }
}

/// A fresh empty folder for files a test writes.
func scratchFolder() throws -> URL {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("zflow-train-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    return folder
}
