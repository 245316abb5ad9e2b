import ZFlowBatch
import ZFlowTensor

extension GroundTruthMask {
    /// The mask as BCE targets (1 foreground, 0 background), [1, 1, height, width], resized with
    /// nearest as `torch.nn.functional.interpolate(mode="nearest")` does: source index
    /// `min(floor(dst * Float(in) / Float(out)), in - 1)`.
    func target(height: Int, width: Int) -> Tensor {
        func sources(_ output: Int, _ input: Int) -> [Int] {
            let scale = Float(input) / Float(output)
            return (0..<output).map { min(Int((Float($0) * scale).rounded(.down)), input - 1) }
        }
        let rows = sources(height, self.height), columns = sources(width, self.width)
        var values = [Float](repeating: 0, count: height * width)
        for (y, sourceY) in rows.enumerated() {
            for (x, sourceX) in columns.enumerated() where foreground[sourceY * self.width + sourceX] {
                values[y * width + x] = 1
            }
        }
        return Tensor(shape: [1, 1, height, width], scalars: values)
    }
}
