import Foundation
import Testing
import ZFlowIO

/// `zflow train`: a run's last checkpoint loads in the graph it trained, and bad options are usage errors.
@Suite struct TrainCLITests {
    @Test func trainedCheckpointRunsInTheGraph() throws {
        let folder = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let synth = try CLI.run(["dataset", "synth", "--count", "2", "--size", "64", "--seed", "2", "-o", folder.appendingPathComponent("set").path])
        #expect(synth.status == 0, "\(synth.stderr)")
        let run = folder.appendingPathComponent("run")
        let train = try CLI.run(["train", "graphs/ldznet.zflow", "--dataset", folder.appendingPathComponent("set/manifest.jsonl").path,
                                 "-o", run.path, "--steps", "2", "--memory-only"], in: CLI.packageRoot)
        #expect(train.status == 0, "\(train.stderr)")
        #expect(train.stderr.contains("step 2/2 "), "\(train.stderr)")
        let log = try String(contentsOf: run.appendingPathComponent("log.jsonl"), encoding: .utf8).split(separator: "\n")
        #expect(log.count == 2 && log.allSatisfy { $0.contains("\"loss\":") && $0.contains("\"lr\":0.001") }, "\(log)")

        let other = try CLI.run(["train", "graphs/ldznet.zflow", "--dataset", folder.appendingPathComponent("set/manifest.jsonl").path,
                                 "-o", run.path, "--steps", "2", "--lr", "0.01", "--memory-only"], in: CLI.packageRoot)
        #expect(other.status == 2)
        #expect(other.stderr.contains("holds another training run") && other.stderr.contains("option lr: 0.001 -> 0.01"),
                "\(other.stderr)")

        let dumped = folder.appendingPathComponent("logits.safetensors")
        let inference = try CLI.run(["run", "graphs/ldznet.zflow", "--memory-only",
                                     "--set", "ldznet=\(run.appendingPathComponent("last.safetensors").path)",
                                     "--set", "mask_path=\(folder.appendingPathComponent("mask.png").path)",
                                     "--set", "overlay_path=\(folder.appendingPathComponent("overlay.png").path)",
                                     "--dump", "logits=\(dumped.path)"], in: CLI.packageRoot)
        #expect(inference.status == 0, "\(inference.stderr)")
        let file = try SafeTensorsFile(contentsOf: dumped)
        let logits = try file.tensor(try #require(file.keys.first)).buffer
        #expect(!logits.isEmpty && logits.allSatisfy(\.isFinite))
    }

    @Test(arguments: [
        (["--optimizer", "adagrad"], "adagrad"),
        (["--augment", "crop"], "crop"),
        (["--schedule", "step"], "step"),
        (["--batch", "0"], "--batch must be at least 1"),
        (["--workers", "0"], "--workers must be at least 1"),
        (["--steps", "2", "--epochs", "1"], "--steps and --epochs: give one of them"),
        (["--epochs", "0"], "--epochs must be at least 1"),
        (["--timesteps", "300"], "--timesteps needs --augment reference"),
        (["--augment", "reference", "--timesteps", "300,1000"], "'1000' is not a timestep of SD's schedule (0...999)"),
        (["--warmup", "5"], "--warmup needs --schedule linear-warmup or cosine"),
        (["--clip-grad", "0"], "--clip-grad must be a finite number > 0"),
        (["--val-every", "2"], "--val-every needs --val"),
        (["--resume", "--overwrite"], "--resume and --overwrite: give one of them"),
        (["--steps", "0"], "--steps must be at least 1"),
        (["--lr=-1"], "--lr must be a finite number >= 0"),
        (["--ema-decay", "1.5"], "--ema-decay must be in [0, 1]"),
        (["--dice-weight=-1"], "--dice-weight must be a finite number >= 0"),
        (["--mask-resize", "bilinear"], "bilinear"),
        (["--momentum", "0.9"], "--momentum is an SGD option"),
        (["--checkpoint-every", "0"], "--checkpoint-every must be at least 1"),
        (["--checkpoint-format", "onnx"], "onnx"),
        (["--init-copy", "ema"], "--init-copy chooses a copy of the checkpoint that --init PATH names"),
        (["--init", "random", "--init-copy", "ema"], "--init-copy chooses a copy of the checkpoint that --init PATH names"),
        (["--init-copy", "best"], "best"),
    ])
    func badOptionsAreUsageErrors(options: [String], message: String) throws {
        let folder = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let result = try CLI.run(["train", "graphs/ldznet.zflow", "--dataset", "examples/dataset/manifest.jsonl",
                                  "-o", folder.appendingPathComponent("run").path] + options, in: CLI.packageRoot)
        #expect(result.status == 2)
        #expect(result.stderr.contains(message), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: folder.appendingPathComponent("run").path))
    }

    @Test func logitsOfAnotherNodeAreRefused() throws {
        let folder = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let result = try CLI.run(["train", "graphs/ldznet.zflow", "--dataset", "examples/dataset/manifest.jsonl",
                                  "-o", folder.appendingPathComponent("run").path, "--logits", "mask", "--memory-only"],
                                 in: CLI.packageRoot)
        #expect(result.status == 2)
        #expect(result.stderr.contains("--logits mask: node 'mask' is a Threshold"), "\(result.stderr)")
    }
}
