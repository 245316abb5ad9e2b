import Foundation
import Testing

/// `zflow run` on weights whose configs lie, or that do not exist (issue 10, faults 5 and 2):
/// a named error and exit 1, never a crash.
@Suite struct LyingConfigTests {
    @Test func aSidecarAskingForABillionChannelsExitsOne() throws {
        let directory = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let tiny = CLI.packageRoot.appendingPathComponent("models/tiny")
        let weights = directory.appendingPathComponent("sd.safetensors")
        try FileManager.default.copyItem(at: tiny.appendingPathComponent("sd-v1-tiny.safetensors"), to: weights)
        var sidecar = try JSONSerialization.jsonObject(
            with: Data(contentsOf: tiny.appendingPathComponent("sd-v1-tiny.json"))) as! [String: Any]
        var vae = sidecar["vae"] as! [String: Any]
        vae["block_out_channels"] = [1_000_000_000, 16, 32, 32]
        sidecar["vae"] = vae
        try JSONSerialization.data(withJSONObject: sidecar).write(to: directory.appendingPathComponent("sd.json"))
        let graph = CLI.packageRoot.appendingPathComponent("graphs/ldznet.zflow").path
        let output = try CLI.run(["run", graph, "--no-cache", "--set", "sd=\(weights.path)",
                                  "--set", "mask_path=\(directory.path)/mask.png", "--set", "overlay_path=\(directory.path)/overlay.png"],
                                 in: CLI.packageRoot)
        #expect(output.status == 1, "\(output.stderr)")
        #expect(output.stderr.contains("'block_out_channels[0]' = 1000000000"), "\(output.stderr)")
        #expect(output.stderr.contains("first_stage_model.encoder.down.0.block.0.conv1.weight"), "\(output.stderr)")
        #expect(!output.stderr.contains("Fatal error"))
    }

    @Test func aMissingWeightsFileIsCalledMissing() throws {
        let directory = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let output = try CLI.run(["run", "graphs/ldznet.zflow", "--no-cache", "--set", "sd=models/sd-v1-4.ckpt",
                                  "--set", "mask_path=\(directory.path)/mask.png", "--set", "overlay_path=\(directory.path)/overlay.png"],
                                 in: CLI.packageRoot)
        #expect(output.status == 1, "\(output.stderr)")
        // The graph resolves its Path params against its own folder, so the node sees an absolute path.
        #expect(output.stderr.contains("no such file or folder: \(CLI.packageRoot.path)/models/sd-v1-4.ckpt"),
                "\(output.stderr)")
        #expect(!output.stderr.contains("not a Stable Diffusion checkpoint"))
    }
}
