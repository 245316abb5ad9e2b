import ZFlowBatch

extension RunIdentity {
    /// `differences(to:)` with the `ignored` options left out of both sides (a resume may
    /// grow `--steps` or `--epochs`).
    func differences(to other: RunIdentity, ignoring ignored: Set<String>) -> [String] {
        var stored = self, wanted = other
        for key in ignored {
            stored.options[key] = nil
            wanted.options[key] = nil
        }
        return stored.differences(to: wanted)
    }
}
