import Foundation
import Testing

/// `zflow probe` through the binary: the table on stdout, the report's heatmap, and exit codes.
@Suite struct ProbeCLITests {
    /// A folder with a small probe graph (64-pixel images, the tiny SD) and two synthetic sets.
    static func workspace() throws -> URL {
        let folder = try CLI.temporaryDirectory()
        let sd = CLI.packageRoot.appendingPathComponent("models/tiny/sd-v1-tiny.safetensors").path
        try """
            param image: Path = "none.png"
            param prompt: String = "cat"
            param t: Int = 400
            param seed: Int = 0

            photo    = LoadImage(path: image)
            prepared = PrepareImage(image: photo, area: 64, multiple: 64)
            z        = VAEEncode(image: prepared, weights: "\(sd)", mode: "mean")
            text     = CLIPTextEncode(text: prompt, weights: "\(sd)")
            zt       = AddNoise(latent: z, t: t, seed: seed)
            sd_taps  = UNetFeatures(latent: zt, text: text, t: t, weights: "\(sd)")

            """.write(to: folder.appendingPathComponent("g.zflow"), atomically: true, encoding: .utf8)
        for (name, seed) in [("train", "1"), ("val", "2")] {
            let synth = try CLI.run(["dataset", "synth", "--count", "2", "--size", "64", "--seed", seed, "-o", name, "--quiet"], in: folder)
            #expect(synth.status == 0, "\(synth.stderr)")
            // Two samples (a scene has several phrases).
            let manifest = folder.appendingPathComponent("\(name)/manifest.jsonl")
            let lines = try String(contentsOf: manifest, encoding: .utf8).split(separator: "\n").prefix(2)
            try (lines.joined(separator: "\n") + "\n").write(to: manifest, atomically: true, encoding: .utf8)
        }
        return folder
    }

    static let probe = ["probe", "g.zflow", "--train", "train/manifest.jsonl", "--val", "val/manifest.jsonl", "--memory-only"]

    @Test func probePrintsTheTableAndReportDrawsTheHeatmap() throws {
        let folder = try Self.workspace()
        defer { try? FileManager.default.removeItem(at: folder) }
        let result = try CLI.run(Self.probe + ["-o", "run", "--taps", "1,6-7", "--timesteps", "200,500", "--hidden", "8"], in: folder)
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n")
        #expect(lines.count == 4 && lines[0].hasPrefix("AP") && lines[0].contains("t=200") && lines[0].contains("t=500"), "\(result.stdout)")
        #expect(lines[1].hasPrefix("tap 1 ") && lines[3].hasPrefix("tap 7 "), "\(result.stdout)")
        #expect(result.stderr.contains("feature store: 8 files computed, 0 already there"), "\(result.stderr)")
        // The tiny UNet's weights are all below the on-demand threshold (ProbeRunTests lowers it).
        #expect(result.stderr.contains("SD UNet loaded: 0 of "), "\(result.stderr)")

        let report = try CLI.run(["report", "run", "-o", "report.html"], in: folder)
        #expect(report.status == 0, "\(report.stderr)")
        let png = try Data(contentsOf: folder.appendingPathComponent("run/probe-ap.png"))
        #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]))
        #expect(try String(contentsOf: folder.appendingPathComponent("report.html"), encoding: .utf8).contains("<td class=\"param\">tap 6</td>"))
    }

    @Test(arguments: [
        (["--taps", "17"], 3, "g.zflow:11:1: error: --taps: tap 17 is outside 1...16"),
        (["--taps", "1-x"], 2, "--taps 1-x: '1-x' is not a whole number or a range"),
        (["--timesteps", "100,1000"], 3, "parameter 't' = 1000 is out of range 0...999"),
        (["--shard", "2/2"], 2, "--shard expects i/n with 0 <= i < n"),
        (["--hidden", "12"], 2, "--hidden must be a positive multiple of 8"),
    ] as [([String], Int32, String)])
    func badOptionsExitWithTheirCodes(options: [String], status: Int32, message: String) throws {
        let folder = try Self.workspace()
        defer { try? FileManager.default.removeItem(at: folder) }
        let result = try CLI.run(Self.probe + ["-o", "run"] + options, in: folder)
        #expect(result.status == status, "\(result.stderr)")
        #expect(result.stderr.contains(message), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: folder.appendingPathComponent("run/features").path))
    }

    @Test func missingManifestFilesAreUsageErrorsWithTheirLines() throws {
        let folder = try Self.workspace()
        defer { try? FileManager.default.removeItem(at: folder) }
        let gone = try CLI.run(["probe", "g.zflow", "--train", "nothing.jsonl", "--val", "val/manifest.jsonl", "-o", "run"], in: folder)
        #expect(gone.status == 2 && gone.stderr.contains("no such file or folder: ") && gone.stderr.contains("nothing.jsonl"), "\(gone.stderr)")

        try FileManager.default.removeItem(at: folder.appendingPathComponent("val/images/0000.png"))
        let missing = try CLI.run(Self.probe + ["-o", "run"], in: folder)
        #expect(missing.status == 2, "\(missing.stderr)")
        #expect(missing.stderr.contains("val/manifest.jsonl:") && missing.stderr.contains("image: no such file or folder"),
                "\(missing.stderr)")
        #expect(missing.stderr.contains("bad line") && missing.stderr.contains("in val/manifest.jsonl"), "\(missing.stderr)")
    }
}
