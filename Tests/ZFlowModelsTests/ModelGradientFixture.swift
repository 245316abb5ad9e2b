import Foundation
import Testing
import ZFlowIO
import ZFlowTensor

/// One fixture of `tools/fixtures/model_grads.py` (Fixtures/grads/): a model's inputs, its loss
/// and PyTorch's gradient of every parameter by checkpoint key (stored as int16 with a per-tensor
/// scale: within 1.5e-5 of max |ref| of autograd's Float64 value), with the error of PyTorch's own
/// Float32 autograd per tensor.
struct ModelGradientFixture {
    let file: SafeTensorsFile
    let gradients: [String: Tensor]
    /// max |g32 - g| / max |g| of PyTorch's Float32 gradients, by key.
    let float32Errors: [String: Float]
    let loss: Float

    init(_ name: String) throws {
        let url = try #require(Bundle.module.url(forResource: "Fixtures/grads/\(name)", withExtension: "safetensors"))
        file = try SafeTensorsFile(contentsOf: url)
        struct Listing: Decodable { let keys: [String]; let shapes: [[Int]]; let scales: [Float]; let float32Errors: [Float] }
        let listing = try JSONDecoder().decode(Listing.self, from: Data(try #require(file.metadata["gradients"]).utf8))
        let packed = try file.tensor("gradients")
        var gradients: [String: Tensor] = [:], offset = 0
        for (index, key) in listing.keys.enumerated() {
            let shape = listing.shapes[index], count = Tensor.elementCount(shape)
            let values = packed.buffer[offset..<offset + count].map { $0 * listing.scales[index] }
            gradients[key] = Tensor(shape: shape, scalars: values)
            offset += count
        }
        #expect(offset == packed.count, "\(name): the packed gradients hold \(packed.count) values, the listing \(offset)")
        self.gradients = gradients
        float32Errors = Dictionary(uniqueKeysWithValues: zip(listing.keys, listing.float32Errors))
        loss = try file.tensor("loss").buffer[0]
    }

    func input(_ name: String) throws -> Tensor { try file.tensor("input/\(name)") }

    /// Runs `loss` on a `GradientTape`, checks its value (1e-5 relative) and the gradients of
    /// `parameters` (`expectMatches`), prints the worst figure under `label`, and returns the
    /// gradients computed.
    @discardableResult
    func expectGradients(of parameters: [String: Tensor], label: String, _ loss: () throws -> Tensor,
                         sourceLocation: SourceLocation = #_sourceLocation) throws -> [String: Tensor] {
        let tape = GradientTape()
        let value = try tape.record(loss)
        #expect(abs(value.buffer[0] - self.loss) <= 1e-5 * abs(self.loss), "\(label): loss \(value.buffer[0]) vs \(self.loss)",
                sourceLocation: sourceLocation)
        let gradients = try tape.gradient(of: value, withRespectTo: parameters)
        let worst = try expectMatches(gradients, sourceLocation: sourceLocation)
        print("\(label): loss \(value.buffer[0]) (PyTorch \(self.loss)); \(gradients.count) gradients, worst within 1e-4: "
              + "\(worst.worst) of max |ref| (\(worst.key))")
        return gradients
    }

    /// Checks `computed` against the reference: the same keys, and per tensor (in the reference's
    /// shape) `max |a - b| <= t x max |ref|` with t = max(tolerance, 2 x PyTorch's own Float32
    /// error on that tensor): a gradient that is a nearly cancelling sum (a bias far from the loss)
    /// carries Float32 rounding no Float32 computation avoids. Returns the worst ratio of the
    /// tensors within `tolerance` and its key.
    func expectMatches(_ computed: [String: Tensor], tolerance: Float = 1e-4,
                       sourceLocation: SourceLocation = #_sourceLocation) throws -> (worst: Float, key: String) {
        let missing = gradients.keys.filter { computed[$0] == nil }.sorted()
        let extra = computed.keys.filter { gradients[$0] == nil }.sorted()
        #expect(missing.isEmpty, "no gradient computed for \(missing.count) parameter(s): \(missing.prefix(8))",
                sourceLocation: sourceLocation)
        #expect(extra.isEmpty, "gradients for parameters PyTorch does not have: \(extra.prefix(8))",
                sourceLocation: sourceLocation)
        var worst: (worst: Float, key: String) = (0, "")
        for (key, reference) in gradients.sorted(by: { $0.key < $1.key }) {
            guard let gradient = computed[key] else { continue }
            guard gradient.count == reference.count else {
                Issue.record("\(key): gradient shape \(gradient.shape), PyTorch's \(reference.shape)",
                             sourceLocation: sourceLocation)
                continue
            }
            let report = compareGradient(try gradient.reshaped(reference.shape), reference)
            if report.ratio > worst.worst && report.ratio <= tolerance { worst = (report.ratio, key) }
            let float32Error = float32Errors[key] ?? 0
            #expect(report.ratio <= max(tolerance, 2 * float32Error),
                    "\(key): max |a - b| = \(report.maxError), \(report.ratio) of max |ref| (PyTorch Float32: \(float32Error))",
                    sourceLocation: sourceLocation)
            if report.ratio > tolerance {
                print("\(key): \(report.ratio) of max |ref| > \(tolerance); PyTorch's Float32 autograd: \(float32Error)")
            }
        }
        return worst
    }
}

/// max |a - b| and its ratio to max |b| (NaN counts as a failure).
func compareGradient(_ a: Tensor, _ b: Tensor) -> (maxError: Float, ratio: Float) {
    var maxError: Float = 0, peak: Float = 0
    for (x, y) in zip(a.buffer, b.buffer) {
        let difference = abs(x - y)
        if difference > maxError || difference.isNaN { maxError = difference.isNaN ? .infinity : difference }
        peak = max(peak, abs(y))
    }
    return (maxError, peak > 0 ? maxError / peak : maxError)
}
