import Foundation
import ZFlowBatch
import ZFlowEval
import ZFlowIO
import ZFlowTensor

// The probe's disk feature store, RUN/features/<split>/<SAMPLE>-t<T>-s<SEED>.safetensors: one
// file per (sample, t, noise seed) holding every requested tap ("tap6": [1, C, h, w]), the CLIP
// text features ("text": [S, D]) and the sample's mask at its own size ("mask": [1, 1, H, W],
// 0 or 1), all F32, with the run's digest, the sample's id, t and the seed in the metadata.
// Files are written to a temporary name and renamed into place (writeSafeTensors), so a file
// under its final name is complete; temporaries left by a killed pass are deleted, never read.

public enum FeatureSplit: String, CaseIterable, Sendable {
    case train, val
}

/// One stored (sample, t, seed).
struct FeatureFile {
    var taps: [Int: Tensor]
    var text: Tensor
    var mask: Tensor
    var id: String
}

struct FeatureStore: Sendable {
    let run: URL
    /// The digest of the run's identity, stamped on and checked in every file.
    let digest: String

    static func folder(_ run: URL) -> URL { run.appendingPathComponent("features") }

    func folder(_ split: FeatureSplit) -> URL { Self.folder(run).appendingPathComponent(split.rawValue) }

    func file(_ split: FeatureSplit, sample: Int, t: Int, seed: Int) -> URL {
        folder(split).appendingPathComponent(String(format: "%05d", sample) + "-t\(t)-s\(seed).safetensors")
    }

    /// The manifest position a store file (or a temporary of one, `.NAME.<pid>.<n>.tmp`) belongs to.
    static func samplePosition(ofFileNamed name: String) -> Int? {
        Int(name.drop { $0 == "." }.prefix { $0.isNumber })
    }

    func prepare(shard: Shard) throws {
        for split in FeatureSplit.allCases {
            let folder = folder(split)
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            // Another shard's temporaries may be files it is still writing: only this shard's go.
            for name in try FileManager.default.contentsOfDirectory(atPath: folder.path) where name.hasSuffix(".tmp") {
                guard let position = Self.samplePosition(ofFileNamed: name), shard.contains(position: position) else { continue }
                try FileManager.default.removeItem(at: folder.appendingPathComponent(name))
            }
        }
    }

    /// Deletes the store files of `shard`'s samples (all of them for the whole run).
    func clear(shard: Shard) throws {
        for split in FeatureSplit.allCases {
            let folder = folder(split)
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder.path) else { continue }
            for name in names {
                guard let position = Self.samplePosition(ofFileNamed: name), shard.contains(position: position) else { continue }
                try FileManager.default.removeItem(at: folder.appendingPathComponent(name))
            }
        }
    }

    func write(_ features: FeatureFile, to url: URL, t: Int, seed: Int) throws {
        var tensors = ["text": features.text, "mask": features.mask]
        for (tap, tensor) in features.taps { tensors["tap\(tap)"] = tensor }
        try writeSafeTensors(tensors, to: url, metadata: ["zflow.probe.run": digest, "zflow.probe.sample": features.id,
                                                          "zflow.probe.t": "\(t)", "zflow.probe.seed": "\(seed)"])
    }

    /// Reads a file of this run holding `taps`; the tensors map the file (no copy).
    func read(_ url: URL, taps: [Int]) throws -> FeatureFile {
        let name = "\(Self.folder(run).lastPathComponent)/\(url.deletingLastPathComponent().lastPathComponent)/\(url.lastPathComponent)"
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw BatchError("\(name) is missing from the feature store: run zflow probe without --shard to compute it")
        }
        let file = try SafeTensorsFile(contentsOf: url)
        guard file.metadata["zflow.probe.run"] == digest else {
            throw BatchError("\(name) belongs to another run (run \(file.metadata["zflow.probe.run"] ?? "none"), this run \(digest)): "
                + "the folder was started over by another shard; rerun with --overwrite")
        }
        var tapTensors: [Int: Tensor] = [:]
        for tap in taps {
            guard file.shape(of: "tap\(tap)") != nil else { throw BatchError("\(name) holds no tap\(tap)") }
            tapTensors[tap] = try file.tensor("tap\(tap)")
        }
        return FeatureFile(taps: tapTensors, text: try file.tensor("text"), mask: try file.tensor("mask"),
                           id: file.metadata["zflow.probe.sample"] ?? "")
    }
}
