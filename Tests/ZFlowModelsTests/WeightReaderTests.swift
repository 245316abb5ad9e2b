import Testing
import ZFlowModels
import ZFlowTensor

/// `WeightReader.load`: all problems of a file in one error, and no model built on placeholders.
@Suite struct WeightReaderTests {
    let source = MemoryTensorSource(origin: "weights.safetensors", tensors: [
        "a.weight": Tensor(shape: [2], scalars: [1, 2]), "b.weight": Tensor(zeros: [3]), "extra": Tensor(zeros: [1]),
    ])

    @Test func aReadOutsideLoadThrowsAtTheFirstProblem() throws {
        let reader = WeightReader(source)
        #expect(throws: WeightError.missing(key: "c.weight", origin: "weights.safetensors")) {
            try reader("c.weight", shape: [2])
        }
        #expect(throws: WeightError.shapeMismatch(key: "b.weight", expected: [2], found: [3], origin: "weights.safetensors")) {
            try reader("b.weight", shape: [2])
        }
    }

    @Test func loadReturnsTheModelOnlyWhenTheFileFits() throws {
        let fitting = MemoryTensorSource(origin: "fits", tensors: ["a.weight": Tensor(shape: [2], scalars: [1, 2])])
        let model = try WeightReader(fitting).load { try $0.scoped("a")("weight", shape: [2]) }
        #expect(model.scalars == [1, 2])
        var built = false
        #expect(throws: WeightError.incompatible(
            missing: ["c.weight"], misshapen: [MisshapenTensor(key: "b.weight", expected: [2], found: [3])],
            unused: ["extra"], origin: "weights.safetensors")) {
            try WeightReader(source).load { reader in
                let tensors = try ["a", "b", "c"].map { try reader.scoped($0)("weight", shape: [2]) }
                built = true
                return tensors
            }
        }
        #expect(built, "loading went on past the problems to find them all")
    }

    @Test func aFailureAfterAProblemReportsTheProblemsWithoutUnusedKeys() throws {
        struct Stop: Error {}
        #expect(throws: WeightError.incompatible(missing: ["c.weight"], misshapen: [], unused: [],
                                                 origin: "weights.safetensors")) {
            try WeightReader(source).load { reader in
                _ = try reader("c.weight", shape: [2])
                throw Stop()
            }
        }
        #expect(throws: Stop.self) { try WeightReader(source).load { _ in throw Stop() } }
    }

    @Test func eachListOfTheMessageIsBounded() {
        let missing = (0..<12).map { "layer.\($0).weight" }
        let text = WeightError.incompatible(missing: missing, misshapen: [], unused: ["x"], origin: "f").description
        #expect(text == "f does not fit the model: 12 missing tensor(s): "
            + missing.prefix(10).map { "'\($0)'" }.joined(separator: ", ")
            + " and 2 more; 1 unexpected tensor(s) not used by the model: 'x'")
    }
}
