import Foundation
import Testing
import ZFlowIO
import ZFlowTensor
import ZFlowTestSupport
import ZFlowTrain

@Suite struct TrainingCheckpointTests {
    @Test func layoutIsTheReleaseOnePlusTheOptimizer() throws {
        let scenario = try OptimizerScenario("adamw_cosine_clip_accumulate_ema")
        var run = try ScenarioRun(scenario)
        for step in 0..<3 { _ = try run.step(step) }
        let folder = try scratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("run.safetensors")
        try TrainingCheckpoint.write(run.parameters, optimizer: run.optimizer, ema: run.ema, to: url)

        let file = try SafeTensorsFile(contentsOf: url)
        let ema = try #require(run.ema)
        #expect(file.metadata["zflow.optimizer"] == "adamw")
        #expect(try file.tensor("optimizer.step").scalars == [3])
        #expect(try file.tensor("model_ema.num_updates").scalars == [3])
        #expect(try file.tensor("model_ema.decay").scalars == [0.9999])
        let proj = "model.diffusion_model.input_blocks.1.1.proj_in.weight"
        #expect(ExponentialMovingAverage.emaKey(for: proj) == "model_ema.diffusion_modelinput_blocks11proj_inweight")
        var expectedKeys: Set<String> = ["optimizer.step", "model_ema.num_updates", "model_ema.decay"]
        for key in scenario.parameterKeys {
            expectedKeys.insert(key)
            expectedKeys.insert(ExponentialMovingAverage.emaKey(for: key))
            #expect(bitwiseEqual(try file.tensor(key), run.parameters[key]!), "\(key)")
            let average = ema.shadow[key] ?? run.parameters[key]!
            #expect(bitwiseEqual(try file.tensor(ExponentialMovingAverage.emaKey(for: key)), average), "EMA of \(key)")
        }
        for (slot, tree) in run.optimizer.state.slots {
            for key in tree.keys {
                expectedKeys.insert("optimizer.state.\(key).\(slot)")
                #expect(bitwiseEqual(try file.tensor("optimizer.state.\(key).\(slot)"), tree[key]!))
            }
        }
        #expect(Set(file.keys) == expectedKeys)
        #expect(file.keys.contains("optimizer.state.\(proj).exp_avg_sq"))
        let frozen = try #require(scenario.settings["frozen"])
        #expect(ema.shadow[frozen] == nil && file.keys.contains(ExponentialMovingAverage.emaKey(for: frozen)),
                "the frozen parameter is not averaged, but the EMA copy holds it")
    }

    /// A `.ckpt` holds the tensors of the safetensors file bit for bit, under `state_dict`, and
    /// the metadata under `metadata`.
    @Test func ckptHoldsTheSafetensorsLayout() throws {
        var run = try ScenarioRun(try OptimizerScenario("adamw_cosine_clip_accumulate_ema"))
        for step in 0..<3 { _ = try run.step(step) }
        let folder = try scratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let (safetensorsURL, ckptURL) = (folder.appendingPathComponent("run.safetensors"), folder.appendingPathComponent("run.ckpt"))
        for url in [safetensorsURL, ckptURL] {
            try TrainingCheckpoint.write(run.parameters, optimizer: run.optimizer, ema: run.ema, to: url)
        }
        let safetensors = try SafeTensorsFile(contentsOf: safetensorsURL), ckpt = try TorchCheckpoint(contentsOf: ckptURL)
        #expect(ckpt.root == ["state_dict"])
        #expect(ckpt.keys == safetensors.keys)
        for key in safetensors.keys {
            #expect(bitwiseEqual(try ckpt.tensor(key), try safetensors.tensor(key)), "\(key)")
        }
        guard case let .dict(entries)? = ckpt.contents["metadata"] else {
            Issue.record("no metadata dict: \(ckpt.contents)")
            return
        }
        #expect(entries.map(\.key) == safetensors.metadata.keys.sorted())
        #expect(safetensors.metadata.count > 1 && entries.allSatisfy { $0.value == .string(safetensors.metadata[$0.key]!) })
    }

    /// N steps straight equal k steps, a checkpoint, a fresh process state resumed from it and
    /// N - k more steps, bit for bit (parameters, every slot, the EMA), from either format.
    @Test(arguments: OptimizerScenario.names, ["safetensors", "ckpt"])
    func resumingContinuesBitForBit(name: String, format: String) throws {
        let scenario = try OptimizerScenario(name)
        let steps = try scenario.steps, split = 3
        var straight = try ScenarioRun(scenario)
        for step in 0..<steps { _ = try straight.step(step) }

        var first = try ScenarioRun(scenario)
        for step in 0..<split { _ = try first.step(step) }
        let folder = try scratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("resume.\(format)")
        try TrainingCheckpoint.write(first.parameters, optimizer: first.optimizer, ema: first.ema, to: url)

        var resumed = try ScenarioRun(scenario)
        resumed.ema = try TrainingCheckpoint.resume(resumed.parameters, optimizer: &resumed.optimizer, from: url)
        #expect(resumed.optimizer.state.stepCount == split)
        for step in split..<steps { _ = try resumed.step(step) }

        for key in scenario.parameterKeys {
            #expect(bitwiseEqual(resumed.parameters[key]!, straight.parameters[key]!), "\(name) \(key)")
        }
        #expect(resumed.optimizer.state.slots.keys.sorted() == straight.optimizer.state.slots.keys.sorted())
        for (slot, tree) in straight.optimizer.state.slots {
            #expect(resumed.optimizer.state.slots[slot]?.keys == tree.keys)
            for key in tree.keys {
                #expect(bitwiseEqual(try #require(resumed.optimizer.state.slots[slot]?[key]), tree[key]!), "\(name) \(key) \(slot)")
            }
        }
        #expect(resumed.ema?.updateCount == straight.ema?.updateCount && resumed.ema?.decay == straight.ema?.decay)
        for key in straight.ema?.shadow.keys ?? [] {
            #expect(bitwiseEqual(try #require(resumed.ema?.shadow[key]), straight.ema!.shadow[key]!), "\(name) EMA \(key)")
        }
        // The check can fail: without the checkpoint, the same steps end elsewhere.
        var unresumed = try ScenarioRun(scenario)
        for step in split..<steps { _ = try unresumed.step(step) }
        #expect(scenario.parameterKeys.contains { !bitwiseEqual(unresumed.parameters[$0]!, straight.parameters[$0]!) })
    }

    @Test func resumingFromAFileThatDoesNotFitIsAnErrorAndChangesNothing() throws {
        let key = "model.diffusion_model.out.2.weight"
        let weights = TensorTree([key: Tensor(shape: [2], scalars: [1, 2])])
        let parameters = try TrainableParameters(weights)
        var sgd = try SGD(learningRate: 0.1, momentum: 0.9)
        try sgd.step(parameters, gradients: TensorTree([key: Tensor(shape: [2], scalars: [1, 1])]))
        let folder = try scratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("sgd.safetensors")
        try TrainingCheckpoint.write(parameters, optimizer: sgd, ema: nil, to: url)
        let saved = try SafeTensorsFile(contentsOf: url)
        var stored: [String: Tensor] = [:]
        for name in saved.keys { stored[name] = try saved.tensor(name) }

        let fresh = try TrainableParameters(TensorTree([key: Tensor(shape: [2], scalars: [5, 5])]))
        var adam = try Adam.adamW()
        #expect(throws: TrainingError.checkpoint(origin: url.path, key: nil,
                                                 reason: "holds the state of optimizer 'sgd', not of 'adamw'")) {
            _ = try TrainingCheckpoint.resume(fresh, optimizer: &adam, from: url)
        }
        func variant(_ change: (inout [String: Tensor]) -> Void) throws -> URL {
            var tensors = stored
            change(&tensors)
            let variantURL = folder.appendingPathComponent("variant.safetensors")
            try writeSafeTensors(tensors, to: variantURL, metadata: saved.metadata)
            return variantURL
        }
        var other = try SGD(learningRate: 0.1, momentum: 0.9)
        let missing = try variant { $0[key] = nil }
        #expect(throws: TrainingError.checkpoint(origin: missing.path, key: key, reason: "missing")) {
            _ = try TrainingCheckpoint.resume(fresh, optimizer: &other, from: missing)
        }
        let misshaped = try variant { $0["optimizer.state.\(key).momentum_buffer"] = Tensor(zeros: [3]) }
        #expect(throws: TrainingError.shapeMismatch(key: "optimizer.state.\(key).momentum_buffer",
                                                    context: "\(misshaped.path): stored", shape: [3], expected: [2])) {
            _ = try TrainingCheckpoint.resume(fresh, optimizer: &other, from: misshaped)
        }
        let foreignSlot = try variant { $0["optimizer.state.\(key).exp_avg"] = Tensor(zeros: [2]) }
        #expect(throws: TrainingError.self) { _ = try TrainingCheckpoint.resume(fresh, optimizer: &other, from: foreignSlot) }
        #expect(fresh[key]!.scalars == [5, 5] && other.state.stepCount == 0 && other.state.slots.isEmpty)

        #expect(try TrainingCheckpoint.resume(fresh, optimizer: &other, from: url) == nil, "no EMA stored")
        #expect(bitwiseEqual(fresh[key]!, parameters[key]!) && other.state.stepCount == 1)
    }

    @Test func keysTheLayoutCannotHoldAreErrors() throws {
        let folder = try scratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("x.safetensors")
        let reserved = try TrainableParameters(TensorTree(["optimizer.lr": Tensor(zeros: [1])]))
        #expect(throws: TrainingError.self) {
            try TrainingCheckpoint.write(reserved, optimizer: SGD(), ema: nil, to: url)
        }
        let colliding = try TrainableParameters(TensorTree(["model.a.b1": Tensor(zeros: [1]), "model.ab.1": Tensor(zeros: [1])]))
        #expect(throws: TrainingError.emaNameCollision(emaKey: "model_ema.ab1", keys: ["model.a.b1", "model.ab.1"])) {
            try ExponentialMovingAverage(of: colliding)
        }
        #expect(!FileManager.default.fileExists(atPath: url.path))
    }
}
