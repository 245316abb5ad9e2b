import Foundation
import Testing
import ZFlowImage

/// The bundled demo model (models/demo/, trained by tools/train_demo.sh) through graphs/ldznet.zflow's
/// defaults: what the README's first command shows, and its quality on scenes it never saw.
@Suite struct DemoModelTests {
    /// Per-sample IoU of two 8-bit grey masks of the same size (foreground: > 127).
    static func iou(_ a: [UInt8], _ b: [UInt8]) -> Double {
        let pairs = zip(a, b).map { ($0 > 127, $1 > 127) }
        let intersection = pairs.filter { $0 && $1 }.count, union = pairs.filter { $0 || $1 }.count
        return union == 0 ? 1 : Double(intersection) / Double(union)
    }

    /// A mask file's pixels (its red channel: masks are grey).
    static func maskPixels(_ url: URL) throws -> (width: Int, height: Int, pixels: [UInt8]) {
        let image = try loadImage(url, applyEXIFOrientation: false)
        return (image.width, image.height, stride(from: 0, to: image.pixels.count, by: 3).map { image.pixels[$0] })
    }

    /// The README's first command: the default run's mask is the true mask of the bundled scene's phrase
    /// (IoU 0.963 when trained). The scene was chosen among 30 of a third seed as one the first demo model got right.
    @Test func defaultRunSegmentsTheBundledScene() throws {
        let folder = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let mask = folder.appendingPathComponent("mask.png")
        let run = try CLI.run(["run", "graphs/ldznet.zflow", "--memory-only", "--set", "mask_path=\(mask.path)",
                               "--set", "overlay_path=\(folder.appendingPathComponent("overlay.png").path)"],
                              in: CLI.packageRoot)
        #expect(run.status == 0, "\(run.stderr)")
        let predicted = try Self.maskPixels(mask)
        let truth = try Self.maskPixels(CLI.packageRoot.appendingPathComponent("examples/images/synth-scene-mask.png"))
        #expect(predicted.width == truth.width && predicted.height == truth.height)
        let score = Self.iou(predicted.pixels, truth.pixels)
        #expect(score >= 0.8, "IoU of the default run's mask with the bundled scene's true mask: \(score)")
    }

    /// The demo's quality on 50 scenes of a seed it never trained on (seed 2; training used seed 1):
    /// mIoU 0.822 at the graph's threshold when trained (models/demo/README.md). The bar is issue 13's
    /// for this test, 0.7 (on 200 scenes the model scores 0.808, above the issue's 0.8 there).
    @Test func heldOutScenesKeepTheRecordedQuality() throws {
        let folder = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let set = folder.appendingPathComponent("set")
        let synth = try CLI.run(["dataset", "synth", "--count", "50", "--size", "192", "--seed", "2", "-o", set.path])
        #expect(synth.status == 0, "\(synth.stderr)")
        let results = folder.appendingPathComponent("results")
        let eval = try CLI.run(["eval", "graphs/ldznet.zflow", "--dataset", set.appendingPathComponent("manifest.jsonl").path,
                                "-o", results.path, "--memory-only", "--quiet"], in: CLI.packageRoot)
        #expect(eval.status == 0, "\(eval.stderr)")
        let summary = try JSONSerialization.jsonObject(with: Data(contentsOf: results.appendingPathComponent("summary.json")))
        let headline = ((summary as? [String: Any])?["points"] as? [[String: Any]])?.first?["headline"] as? [String: Any]
        let meanIoU = try #require(headline?["meanIoU05"] as? Double)
        #expect(meanIoU >= 0.7, "mIoU at the graph's threshold 0.5 on 50 held-out scenes: \(meanIoU) (recorded: 0.822)")
    }

    /// Issue 13: the bundled demo weights stay within 10 MB.
    @Test func demoWeightsFitTenMegabytes() throws {
        let folder = CLI.packageRoot.appendingPathComponent("models/demo")
        let files = try FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: [.fileSizeKey])
            .filter { $0.pathExtension == "safetensors" }
        #expect(files.count == 2)
        let bytes = try files.reduce(0) { $0 + (try $1.resourceValues(forKeys: [.fileSizeKey]).fileSize ?? 0) }
        #expect(bytes <= 10_000_000, "models/demo weights: \(bytes) bytes")
    }
}
