import Foundation

extension RunIdentity {
    /// Refuses `folder` when its run.json describes another run than this one (`kind` names the
    /// run in the message: "training", "probe"), saying what differs; a folder without run.json
    /// is accepted. `--overwrite` is the way out the messages offer.
    public func requireSameRun(in folder: URL, kind: String) throws {
        let file = RunFiles.description(folder)
        guard FileManager.default.fileExists(atPath: file.path) else { return }
        let existing: RunIdentity
        do { existing = try RunFiles.read(RunIdentity.self, from: file) } catch {
            throw BatchError("\(file.relativePath) is not the run.json of a \(kind) run (\(error)); "
                + "rerun with --overwrite to start the folder over, or choose another -o")
        }
        let differences = existing.differences(to: self)
        guard differences.isEmpty else {
            throw BatchError("\(folder.relativePath) holds another \(kind) run; what differs (folder -> this run):\n"
                + differences.map { "  " + $0 }.joined(separator: "\n")
                + "\nrerun with --overwrite to start the folder over, or choose another -o")
        }
    }
}
