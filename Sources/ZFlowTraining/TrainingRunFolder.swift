import Foundation
import ZFlowBatch

/// The files of a `zflow train` run folder:
///   run.json                 the run's identity (RunIdentity)
///   log.jsonl                one TrainingStep per step
///   epochs.jsonl             one TrainingEpoch per finished epoch
///   val.jsonl                one ValidationRecord per validation (with --val)
///   step-N.<format>          checkpoints every --checkpoint-every steps and at the last
///   last.<format>            the latest of them: what --resume continues from
///   crops/                   --augment reference's image crops while the run lasts
public struct TrainingRunFolder: Sendable {
    public let url: URL
    public let format: CheckpointFormat

    public init(_ url: URL, format: CheckpointFormat = .safetensors) {
        self.url = url
        self.format = format
    }

    public var lastCheckpoint: URL { url.appendingPathComponent("last.\(format.rawValue)") }
    public func stepCheckpoint(_ step: Int) -> URL { url.appendingPathComponent("step-\(step).\(format.rawValue)") }
    public var log: URL { url.appendingPathComponent("log.jsonl") }
    public var epochLog: URL { url.appendingPathComponent("epochs.jsonl") }
    public var validationLog: URL { url.appendingPathComponent("val.jsonl") }
    var crops: URL { url.appendingPathComponent("crops") }
    private var logs: [URL] { [log, epochLog, validationLog] }

    /// Binds the folder to a run of `identity`. A fresh start: a folder of another run is refused
    /// with what differs unless `overwrite`, and checkpoints and logs start empty. `resume`: the
    /// folder must hold a run whose identity differs at most in the options a resume may grow
    /// and a `last.safetensors` to continue from, and the run may only grow to `totalSteps`.
    func bind(_ identity: RunIdentity, overwrite: Bool, resume: Bool, totalSteps: Int) throws {
        let file = RunFiles.description(url)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        let exists = FileManager.default.fileExists(atPath: file.path)
        if resume {
            guard exists else { throw BatchError("--resume: \(url.relativePath) holds no training run (no run.json) to continue") }
            let stored = try existing(file)
            if let before = Self.totalSteps(of: stored), before > totalSteps {
                throw BatchError("--resume: \(url.relativePath) is a run of \(before) steps; --steps or --epochs may grow it, "
                    + "not shorten it to \(totalSteps)")
            }
            try stored.requireResumable(by: identity, in: url, kind: "training run")
            guard FileManager.default.fileExists(atPath: lastCheckpoint.path) else {
                throw BatchError("--resume: \(url.relativePath) has no \(lastCheckpoint.lastPathComponent) yet (the run stopped before its first "
                    + "checkpoint): start it again without --resume")
            }
        } else {
            if !overwrite { try identity.requireSameRun(in: url, kind: "training") }
            let stale = try FileManager.default.contentsOfDirectory(atPath: url.path)
                .filter { $0.hasPrefix("step-") || $0.hasPrefix("last.") }
            for name in stale { try FileManager.default.removeItem(at: url.appendingPathComponent(name)) }
            for log in logs { try? FileManager.default.removeItem(at: log) }
            try? FileManager.default.removeItem(at: crops)
        }
        try RunFiles.write(identity, to: file)
    }

    /// The steps of the run `identity` describes (`--steps`, or `--epochs` x its steps per epoch).
    private static func totalSteps(of identity: RunIdentity) -> Int? {
        if let steps = identity.options["steps"].flatMap(Int.init) { return steps }
        guard let epochs = identity.options["epochs"].flatMap(Int.init), let samples = identity.dataset?.samples,
              let batch = identity.options["batch"].flatMap(Int.init) else { return nil }
        return epochs * TrainingConfiguration.stepsPerEpoch(samples: samples, batch: batch)
    }

    private func existing(_ file: URL) throws -> RunIdentity {
        do { return try RunFiles.read(RunIdentity.self, from: file) } catch {
            throw BatchError("\(file.relativePath) is not the run.json of a training run (\(error)); "
                + "rerun with --overwrite to start the folder over, or choose another -o")
        }
    }

    /// Drops what a run killed after its last checkpoint (at `step`) wrote beyond it: log lines
    /// of later steps (and a torn last line), and later step checkpoints.
    func truncate(after step: Int) throws {
        for log in logs where FileManager.default.fileExists(atPath: log.path) {
            let text = String(decoding: try Data(contentsOf: log), as: UTF8.self)
            let kept = text.split(separator: "\n").filter { line in
                guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                      let at = (object["step"] ?? object["last_step"]) as? Int else { return false }
                return at <= step
            }
            try Data(kept.map { $0 + "\n" }.joined().utf8).write(to: log, options: .atomic)
        }
        for name in try FileManager.default.contentsOfDirectory(atPath: url.path) where name.hasPrefix("step-") {
            let number = name.dropFirst("step-".count).prefix { $0.isNumber }
            if let later = Int(number), later > step { try FileManager.default.removeItem(at: url.appendingPathComponent(name)) }
        }
    }

    /// Appends one JSON line to `file` (made if missing).
    static func append(_ value: some Encodable, to file: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        if !FileManager.default.fileExists(atPath: file.path) { _ = FileManager.default.createFile(atPath: file.path, contents: nil) }
        let handle = try FileHandle(forWritingTo: file)
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: encoder.encode(value) + Data("\n".utf8))
    }
}
