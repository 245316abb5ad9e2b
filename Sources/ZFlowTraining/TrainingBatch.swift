import ZFlowEval

extension DatasetManifest {
    /// The samples step `step` (1-based) trains on: the next `size` in manifest order, cycling.
    func samples(forStep step: Int, batchSize size: Int) -> [DatasetSample] {
        (0..<size).map { samples[((step - 1) * size + $0) % samples.count] }
    }
}
