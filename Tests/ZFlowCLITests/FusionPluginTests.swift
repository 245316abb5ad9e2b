import Foundation
import Testing
import ZFlowIO

/// The example plugin's `film` fusion (examples/plugin FiLMFusion.swift) through the real zflow:
/// listed among ZNet's choices when the plugin is loaded, trained from a checkpoint without its
/// weights, evaluated beside the built-in cross_attention (its gradients:
/// Tests/ZFlowExamplePluginTests).
@Suite(.serialized) struct FusionPluginTests {
    static let graph = "examples/plugin/ldznet-film.zflow"
    /// The stored (CompVis) modules of taps 6-10 in the tiny ZNet (SD v1's layout) and the
    /// tensors FiLM owns under each.
    static let positions = ["input_blocks.8.1", "middle_block.1", "output_blocks.3.1", "output_blocks.4.1", "output_blocks.5.1"]
    static let filmTensors = ["film.gate", "film.scale.weight", "film.scale.bias", "film.shift.weight", "film.shift.bias"]
    static let trainingKeys = positions.flatMap { position in filmTensors.map { "model.diffusion_model.\(position).\($0)" } }

    private func plugin() throws -> String { try PluginTests.library.get().path }

    @Test func zNetsFusionChoicesAreReadWhenAGraphIsChecked() throws {
        let with = try CLI.run(["check", Self.graph, "--plugin", try plugin()], in: CLI.packageRoot)
        #expect(with.status == 0, "\(with.stderr)")
        #expect(with.stdout == "\(Self.graph): ok (12 params, 8 nodes, 2 sinks)\n")
        let nodes = try CLI.run(["nodes", "ZNet", "--plugin", try plugin()])
        #expect(nodes.stdout.contains("(one of \"concat\", \"cross_attention\", \"film\", \"none\")"), "\(nodes.stdout)")

        let without = try CLI.run(["check", Self.graph], in: CLI.packageRoot)
        #expect(without.status == 3)
        #expect(without.stderr.contains("is not one of \"concat\", \"cross_attention\", \"none\""), "\(without.stderr)")
    }

    /// 3 SGD steps of 2 samples from ldznet-tiny.safetensors, which holds no film.* tensor: they are initialised
    /// (the gates at zero), train (with the gates at zero only the gates get a gradient at step 1;
    /// what the others get after it is below f32 resolution at this learning rate, see the finite
    /// difference test for them), and are written in both copies; the run evaluates with film
    /// and, beside it, with the built-in cross_attention.
    @Test func thePluginFusionTrainsWithoutItsWeightsStoredAndIsEvaluatedBesideTheBuiltInOnes() throws {
        let folder = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let manifest = try Self.scenes(2, seed: 3, in: folder)
        let stored = try SafeTensorsFile(contentsOf: Self.tinyZNet).keys
        #expect(!stored.contains { $0.contains("film") })

        let run = folder.appendingPathComponent("run")
        let losses = try train(weights: Self.tinyZNet, manifest: manifest, run: run,
                               options: ["--steps", "3", "--batch", "2", "--optimizer", "sgd", "--lr", "0.5", "--checkpoint-every", "1",
                                         "--seed", "7", "--memory-only"])
        #expect(losses.count == 3 && Set(losses).count == 3, "\(losses)")

        let first = try Self.tensors(Self.trainingKeys, in: run.appendingPathComponent("step-1.safetensors"))
        let last = try Self.tensors(Self.trainingKeys, in: run.appendingPathComponent("step-3.safetensors"))
        #expect(Self.trainingKeys.allSatisfy { last[$0]?.allSatisfy { $0.isFinite } == true })
        for position in Self.positions {
            let gate = "model.diffusion_model.\(position).film.gate"
            #expect(first[gate]?.contains { $0 != 0 } == true, "the gate at \(position) did not move at step 1")
            #expect(first[gate] != last[gate], "the gate at \(position) did not move at steps 2-3")
            #expect(first["model.diffusion_model.\(position).film.scale.weight"]?.contains { $0 != 0 } == true)
        }
        let emaKeys = Self.trainingKeys.map { "model_ema." + $0.dropFirst("model.".count).replacingOccurrences(of: ".", with: "") }
        #expect(Set(emaKeys).isSubset(of: Set(try SafeTensorsFile(contentsOf: run.appendingPathComponent("last.safetensors")).keys)))

        let checkpoint = "ldznet=\(run.appendingPathComponent("last.safetensors").path)"
        let eval = try CLI.run(["eval", Self.graph, "--plugin", try plugin(), "--set", "fusion=film", "--set", checkpoint,
                                "--dataset", manifest, "-o", folder.appendingPathComponent("eval").path, "--memory-only", "--quiet"],
                               in: CLI.packageRoot)
        #expect(eval.status == 0, "\(eval.stderr)")
        let sweep = try CLI.run(["sweep", Self.graph, "--plugin", try plugin(), "--grid", "fusion=cross_attention,film",
                                 "--set", checkpoint, "--dataset", manifest, "-o", folder.appendingPathComponent("sweep").path,
                                 "--memory-only", "--quiet"], in: CLI.packageRoot)
        #expect(sweep.status == 0, "\(sweep.stderr)")
        let rows = try String(contentsOf: folder.appendingPathComponent("sweep/results.csv"), encoding: .utf8)
            .split(separator: "\n").dropFirst()
        #expect(rows.count == 2 && rows[rows.startIndex].contains("cross_attention") && rows.last!.contains("film"), "\(rows)")
    }

    /// `--init random` draws ZNet by PyTorch's schemes but keeps the plugin fusion's own initial
    /// values for the tensors the weights file lacks (the generic schemes have none for a gate):
    /// one SGD step at lr 0 leaves the gates at zero and the stored tensors redrawn.
    @Test func initRandomKeepsThePluginFusionsInitialValues() throws {
        let folder = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let manifest = try Self.scenes(1, seed: 3, in: folder)
        let run = folder.appendingPathComponent("run")
        _ = try train(weights: Self.tinyZNet, manifest: manifest, run: run,
                      options: ["--steps", "1", "--init", "random", "--optimizer", "sgd", "--lr", "0", "--seed", "7", "--memory-only"])
        let trained = try SafeTensorsFile(contentsOf: run.appendingPathComponent("last.safetensors"))
        for position in Self.positions {
            #expect(try trained.tensor("model.diffusion_model.\(position).film.gate").scalars.allSatisfy { $0 == 0 })
        }
        let stored = try SafeTensorsFile(contentsOf: Self.tinyZNet)
        let weights = stored.keys.filter { $0.hasPrefix("model.diffusion_model.") && $0.hasSuffix(".weight") }
        let redrawn = try weights.filter { try stored.tensor($0).scalars != trained.tensor($0).scalars }
        #expect(redrawn.count * 2 > weights.count, "only \(redrawn.count) of \(weights.count) stored weights were redrawn")
    }
}

extension FusionPluginTests {
    /// `count` synthetic scenes in `folder/set`; returns the manifest's path.
    static func scenes(_ count: Int, seed: Int, in folder: URL) throws -> String {
        let synth = try CLI.run(["dataset", "synth", "--count", "\(count)", "--size", "64", "--seed", "\(seed)",
                                 "-o", folder.appendingPathComponent("set").path])
        #expect(synth.status == 0, "\(synth.stderr)")
        return folder.appendingPathComponent("set/manifest.jsonl").path
    }

    /// `zflow train` of the film graph from `weights`; returns the logged losses.
    func train(weights: URL, manifest: String, run: URL, options: [String]) throws -> [Float] {
        let result = try CLI.run(["train", Self.graph, "--plugin", try plugin(), "--set", "fusion=film",
                                  "--set", "ldznet=\(weights.path)", "--dataset", manifest, "-o", run.path, "--quiet"] + options,
                                 in: CLI.packageRoot)
        #expect(result.status == 0, "\(result.stderr)")
        let log = try String(contentsOf: run.appendingPathComponent("log.jsonl"), encoding: .utf8)
        return try log.split(separator: "\n").map { line in
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            return try #require((object["loss"] as? NSNumber)?.floatValue)
        }
    }

    static let tinyZNet = CLI.packageRoot.appendingPathComponent("models/tiny/ldznet-tiny.safetensors")

    /// The values of every key of `keys` in a safetensors file.
    static func tensors(_ keys: [String], in file: URL) throws -> [String: [Float]] {
        let stored = try SafeTensorsFile(contentsOf: file)
        return try Dictionary(uniqueKeysWithValues: keys.map { ($0, try stored.tensor($0).scalars) })
    }
}
