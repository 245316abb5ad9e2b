import Foundation
import ZFlowEval

// Binds a results folder to one run: the first run writes run.json; a later run (a resume, or
// another shard) must have the same identity, or it is refused with what differs. `--overwrite`
// starts the folder over. Records carry the identity's digest, so that a shard's file left
// from an earlier run is never mixed into this one.

enum RunFolder {
    /// Prepares `folder` for `description`'s run and returns the records of this shard to resume.
    static func bind(_ folder: URL, description: RunDescription, shard: Shard, overwrite: Bool) throws -> [SampleRecord] {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let file = RunFiles.description(folder)
        if overwrite {
            try clear(folder, shard: shard)
        } else if FileManager.default.fileExists(atPath: file.path) {
            let existing: RunDescription
            do { existing = try RunFiles.read(RunDescription.self, from: file) } catch {
                throw BatchError("\(file.relativePath) was written by another ZFlow version or is damaged (\(error)); "
                    + "rerun with --overwrite to start the folder over, or choose another --output")
            }
            let differences = existing.identity.differences(to: description.identity)
            guard differences.isEmpty else {
                throw BatchError("\(folder.relativePath) holds results of another run; what differs (folder -> this run):\n"
                    + differences.map { "  " + $0 }.joined(separator: "\n")
                    + "\nrerun with --overwrite to start the folder over, or choose another --output")
            }
        }
        // Rewritten when only paths differ, so that the folder names the files of its latest run.
        try RunFiles.write(description, to: file)
        let samples = RunFiles.samples(folder, shard: shard)
        let records = try RunFiles.readRecords(samples, repair: true)
        try requireRun(records, of: description, in: samples)
        // Failed samples (--keep-going) are retried: their records go.
        let succeeded = records.filter { $0.error == nil }
        if succeeded.count != records.count { try RunFiles.writeRecords(succeeded, to: samples) }
        return succeeded
    }

    /// Throws unless every record was written by `description`'s run.
    static func requireRun(_ records: [SampleRecord], of description: RunDescription, in file: URL) throws {
        let digest = description.identity.digest
        if let stale = records.first(where: { $0.run != digest }) {
            throw BatchError("\(file.relativePath) holds records of another run (sample '\(stale.id)', run \(stale.run); "
                + "this run is \(digest)): the folder was started over by another shard; rerun this shard with --overwrite")
        }
    }

    /// A whole run removes every file of the folder's run; a shard only its own samples file
    /// and the summaries (other shards may be running; their stale files are refused by digest).
    private static func clear(_ folder: URL, shard: Shard) throws {
        var doomed = [RunFiles.description(folder), RunFiles.summary(folder), RunFiles.resultsJSON(folder),
                      RunFiles.resultsCSV(folder), RunFiles.samples(folder, shard: shard)]
        if shard.count == 1 {
            doomed += try RunFiles.allSampleFiles(folder) + [RunFiles.examples(folder), RunFiles.outputs(folder)]
        }
        for url in doomed where FileManager.default.fileExists(atPath: url.path) {
            try FileManager.default.removeItem(at: url)
        }
    }
}
