import Foundation
import ZFlowBatch
import ZFlowData
import ZFlowEval
import ZFlowGraph
import ZFlowNodes
import ZFlowProbe

/// A probe on the bundled tiny SD, 64-pixel synthetic scenes and a small grid.
enum ProbeFixture {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let sd = root.appendingPathComponent("models/tiny/sd-v1-tiny.safetensors")

    /// graphs/ldznet.zflow's upstream (64-pixel images: an 8x8 latent, taps from 8x8 to 1x1).
    static func graphText(sd: String = sd.path) -> String {
        """
        param image: Path = "none.png"
        param prompt: String = "cat"
        param t: Int = 400
        param seed: Int = 0
        param sd: Path = "\(sd)"

        photo    = LoadImage(path: image)
        prepared = PrepareImage(image: photo, area: 64, multiple: 64)
        z        = VAEEncode(image: prepared, weights: sd, mode: "mean")
        text     = CLIPTextEncode(text: prompt, weights: sd, template: "a photo of a {}.")
        zt       = AddNoise(latent: z, t: t, seed: seed)
        sd_taps  = UNetFeatures(latent: zt, text: text, t: t, weights: sd, taps: [6])

        """
    }

    /// A temporary folder with the graph, a train set of `train` scenes and a val set of `val` scenes.
    struct Workspace {
        let folder: URL
        let graphFile: URL
        let train: URL
        let val: URL

        init(train: Int = 3, val: Int = 2) throws {
            folder = FileManager.default.temporaryDirectory.appendingPathComponent("zflow-probe-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            graphFile = folder.appendingPathComponent("probe.zflow")
            try graphText().write(to: graphFile, atomically: true, encoding: .utf8)
            self.train = try Self.scenes(train, seed: 3, in: folder.appendingPathComponent("train"))
            self.val = try Self.scenes(val, seed: 4, in: folder.appendingPathComponent("val"))
        }

        /// A manifest of the first `count` samples (phrases) of synthetic scenes.
        private static func scenes(_ count: Int, seed: UInt64, in folder: URL) throws -> URL {
            _ = try SyntheticDataset.write(count: count, size: 64, seed: seed, to: folder)
            let manifest = folder.appendingPathComponent(SyntheticDataset.manifestName)
            let lines = try String(contentsOf: manifest, encoding: .utf8).split(separator: "\n").prefix(count)
            try (lines.joined(separator: "\n") + "\n").write(to: manifest, atomically: true, encoding: .utf8)
            return manifest
        }

        func remove() { try? FileManager.default.removeItem(at: folder) }

        func run(_ name: String) -> URL { folder.appendingPathComponent(name) }

        func configuration(output: URL, _ configure: (inout ProbeConfiguration) -> Void = { _ in }) throws
            -> (ProbeConfiguration, NodeRegistry) {
            let registry = NodeRegistry()
            registerStandardNodes(into: registry)
            let graph = try Checker.check(fileAt: graphFile.path, registry: registry)
            var configuration = ProbeConfiguration(graph: graph, train: try DatasetFiles.load(train),
                                                   val: try DatasetFiles.load(val), output: output)
            configuration.taps = [1, 6, 16]
            configuration.timesteps = [100, 600]
            configuration.training.hidden = 8
            configuration.training.epochs = 2
            configure(&configuration)
            return (configuration, registry)
        }

        /// Runs a probe into `output`; `progress` may throw to interrupt it.
        @discardableResult
        func probe(_ output: URL, _ configure: (inout ProbeConfiguration) -> Void = { _ in },
                   progress: (ProbeProgress) throws -> Void = { _ in }) async throws -> ProbeOutcome {
            let (configuration, registry) = try configuration(output: output, configure)
            return try await ProbeRunner(engine: Engine(registry: registry, cache: .disabled)).run(configuration, progress: progress)
        }
    }

    static func probeJSON(_ run: URL) throws -> Data { try Data(contentsOf: run.appendingPathComponent("probe.json")) }

    /// The store's files (names relative to features/) with their content.
    static func storeFiles(_ run: URL) throws -> [String: Data] {
        var files: [String: Data] = [:]
        for split in FeatureSplit.allCases {
            let folder = run.appendingPathComponent("features/\(split.rawValue)")
            for name in try FileManager.default.contentsOfDirectory(atPath: folder.path) {
                files["\(split.rawValue)/\(name)"] = try Data(contentsOf: folder.appendingPathComponent(name))
            }
        }
        return files
    }
}
