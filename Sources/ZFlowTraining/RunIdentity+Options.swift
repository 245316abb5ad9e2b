import Foundation
import ZFlowBatch

extension RunIdentity {
    /// `differences(to:)` without the options a resume may grow (`--steps`, `--epochs`).
    func resumeDifferences(to other: RunIdentity) -> [String] {
        var stored = self, wanted = other
        for key in TrainingConfiguration.extensibleOptions {
            stored.options[key] = nil
            wanted.options[key] = nil
        }
        return stored.differences(to: wanted)
    }

    /// Refuses a `--resume` of `folder`, whose run.json holds this identity, by the run `other`
    /// when they differ in more than what a resume may grow, saying what differs; `kind` names
    /// what the folder holds ("training run", "training grid"). A single run and a grid refuse
    /// with this one message.
    func requireResumable(by other: RunIdentity, in folder: URL, kind: String) throws {
        let differences = resumeDifferences(to: other)
        guard differences.isEmpty else {
            throw BatchError("--resume: \(folder.relativePath) holds another \(kind); what differs (folder -> this run):\n"
                + differences.map { "  " + $0 }.joined(separator: "\n")
                + "\nresume with what the folder's run.json holds (only --steps or --epochs may grow), "
                + "or start over with --overwrite")
        }
    }
}
