import Foundation
import Testing
import ZFlowIO
import ZFlowModels
import ZFlowTensor

/// One training step of the full-size LD-ZNet (SD v1 UNet-shaped ZNet 320/640/1280, pools, attn3,
/// head; seeded random weights) against the official module's Float64 autograd: the BCE loss and
/// every parameter's gradient, by the rule of `ModelGradientTests`. By hand, not in CI (3.7 GB of
/// reference gradients, 1.9 GB of weights, 12 GB of memory):
/// `ZFLOW_LDZNET_FULL_GRADS=$PWD/parity-work/ldznet-grads-full/reference.safetensors swift test --filter
/// FullSizeGradientParityTests`, the files written by tools/parity/ldznet_grads_full.py
/// (docs/parity.md "Full size, one step").
@Suite struct FullSizeGradientParityTests {
    static let referenceFile = ProcessInfo.processInfo.environment["ZFLOW_LDZNET_FULL_GRADS"]
        .map(URL.init(fileURLWithPath:))

    @Test(.enabled(if: referenceFile != nil,
                   "set ZFLOW_LDZNET_FULL_GRADS to the reference.safetensors of tools/parity/ldznet_grads_full.py"))
    func oneStepMatchesOfficialModule() throws {
        let fixture = try ModelGradientFixture(fullSizeReference: #require(Self.referenceFile))
        let weights = try #require(Self.referenceFile).deletingLastPathComponent()
            .appendingPathComponent(#require(fixture.file.metadata["weights"], "the reference names no weights file"))
        let znet = try LDZNetCheckpoint(url: weights, copy: .training)
            .loadZNet(config: .ldzNetV1, fusion: CrossAttentionFusion.name).znet
        let (z, context, mask) = (try fixture.input("z"), try fixture.input("context"), try fixture.input("mask"))
        let taps = try Dictionary(uniqueKeysWithValues: ldzNetTaps.map { ($0, try fixture.input("tap\($0)")) })
        try Self.expectSameShapes(znet.parameters, fixture.gradients)
        #expect(z.shape.count == 4 && mask.shape == [1, 1, 8 * z.shape[2], 8 * z.shape[3]] && context.shape == [77, 768],
                "inputs: z \(z.shape), mask \(mask.shape), context \(context.shape)")

        let start = Date()
        let gradients = try fixture.expectGradients(of: znet.parameters, label: "full-size ldznet (official module)") {
            try bceWithLogits(znet(z, context: context, sdFeatures: taps), target: mask)
        }
        print("one step (forward + backward): \(String(format: "%.1f", Date().timeIntervalSince(start))) s")
        Self.printReport(gradients, fixture)
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        print(String(format: "peak RSS %.1f GB", Double(usage.ru_maxrss) / 1e6))
    }

    /// Every parameter's shape against its reference gradient's, all at once, before the step. A
    /// 1x1 convolution's weight is read (and differentiated) as [O, I]: trailing 1s are dropped.
    static func expectSameShapes(_ parameters: [String: Tensor], _ reference: [String: Tensor]) throws {
        func trimmed(_ shape: [Int]) -> [Int] { Array(shape.reversed().drop { $0 == 1 }.reversed()) }
        let missing = reference.keys.filter { parameters[$0] == nil }.sorted()
        let extra = parameters.keys.filter { reference[$0] == nil }.sorted()
        let misshaped = reference.compactMap { key, gradient -> String? in
            guard let shape = parameters[key]?.shape, trimmed(shape) != trimmed(gradient.shape) else { return nil }
            return "\(key): \(shape) vs \(gradient.shape)"
        }.sorted()
        try #require(missing.isEmpty && extra.isEmpty && misshaped.isEmpty,
                     "ZFlow lacks \(missing.prefix(8)), has extra \(extra.prefix(8)), mis-shaped \(misshaped.prefix(8))")
    }

    /// The part of the model a checkpoint key belongs to, for the table in docs/parity.md.
    static func group(of key: String) -> String {
        let name = key.dropFirst("model.diffusion_model.".count)
        if name.contains(".attentionpool2D.") { return "pools" }
        if name.contains(".attn3.") || name.contains(".norm_sd.") { return "attn3 + norm_sd" }
        if name.hasPrefix("out.") || name.hasPrefix("final.") { return "head (out, final)" }
        return ["time_embed", "input_blocks", "middle_block", "output_blocks"].first { name.hasPrefix($0 + ".") } ?? "other"
    }

    /// Per tensor `max |a - b| / max |ref|` (with PyTorch's own Float32 error), then the worst per group.
    static func printReport(_ gradients: [String: Tensor], _ fixture: ModelGradientFixture) {
        var groups: [String: (count: Int, ratio: Float, key: String)] = [:]
        for (key, reference) in fixture.gradients.sorted(by: { $0.key < $1.key }) {
            guard let gradient = gradients[key] else { continue }
            let ratio = compareGradient(gradient, reference).ratio
            print("GRAD \(key) \(ratio) (PyTorch Float32 \(fixture.float32Errors[key] ?? .nan))")
            var figure = groups[group(of: key), default: (0, 0, "")]
            figure.count += 1
            if ratio >= figure.ratio { (figure.ratio, figure.key) = (ratio, key) }
            groups[group(of: key)] = figure
        }
        for (group, figure) in groups.sorted(by: { $0.key < $1.key }) {
            print("GROUP \(group): \(figure.count) tensors, worst \(figure.ratio) of max |ref| (\(figure.key))")
        }
    }
}

extension ModelGradientFixture {
    /// The reference of tools/parity/ldznet_grads_full.py: `grad/<key>` Float32 tensors (memory-mapped),
    /// `float32Errors` as a JSON object in the metadata.
    init(fullSizeReference url: URL) throws {
        let file = try SafeTensorsFile(contentsOf: url), prefix = "grad/"
        self.file = file
        gradients = try Dictionary(uniqueKeysWithValues: file.keys.filter { $0.hasPrefix(prefix) }.map {
            (String($0.dropFirst(prefix.count)), try file.tensor($0))
        })
        let errors = try #require(file.metadata["float32Errors"], "\(url.path): no float32Errors in the metadata")
        float32Errors = try JSONDecoder().decode([String: Float].self, from: Data(errors.utf8))
        loss = try file.tensor("loss").buffer[0]
    }
}
