import Foundation
import Testing
import ZFlowIO
import ZFlowModels
import ZFlowTensor
import ZFlowTestSupport

/// The LD-ZNet fixtures written by tools/fixtures/ldznet.py and tools/make_tiny_models.py
/// (docs/ldznet-reference.md lists every file and key).
enum LDZNetFixtures {
    static var root: URL {
        get throws { try #require(Bundle.module.resourceURL).appendingPathComponent("Fixtures/ldznet") }
    }

    static var checkpoint: URL { get throws { try root.appendingPathComponent("ldznet_tiny.ckpt") } }
    static var concatWeights: URL { get throws { try root.appendingPathComponent("concat_proj_tiny.safetensors") } }
    static var sdUNet: URL { get throws { try root.appendingPathComponent("sd_unet_tiny.safetensors") } }

    static func reference() throws -> SafeTensorsFile {
        try SafeTensorsFile(contentsOf: root.appendingPathComponent("reference.safetensors"))
    }

    static func pipeline() throws -> SafeTensorsFile {
        try SafeTensorsFile(contentsOf: root.appendingPathComponent("pipeline_tiny.safetensors"))
    }

    /// `models/tiny/` of the repository (the bundled demo models the pipeline fixture used).
    static let tinyModels = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("models/tiny")

    /// `Fixtures/ldznet/config.json`: block_out_channels [16, 16, 16, 32], 8 heads, 8 groups,
    /// cross_attention_dim 32.
    static func unetConfig(outChannels: Int, crossAttentionDim: Int = 32) -> UNetConfig {
        var config = UNetConfig.sdV1
        config.blockOutChannels = [16, 16, 16, 32]
        config.normNumGroups = 8
        config.crossAttentionDim = crossAttentionDim
        config.outChannels = outChannels
        return config
    }

    static let sizes = ["square", "wide"]
}

/// A `TensorSource` held in memory (tests that edit a checkpoint).
struct MemoryTensorSource: TensorSource {
    let origin: String
    let tensors: [String: Tensor]
    var keys: [String] { tensors.keys.sorted() }
    func shape(of key: String) -> [Int]? { tensors[key]?.shape }
    func tensor(_ key: String) throws -> Tensor {
        guard let tensor = tensors[key] else { throw TensorFileError(file: origin, key: key, "no such tensor") }
        return tensor
    }

    init(origin: String, tensors: [String: Tensor]) {
        self.origin = origin
        self.tensors = tensors
    }

    /// Every tensor of `source`, optionally edited.
    init(copying source: TensorSource, origin: String = "edited checkpoint",
         edit: (inout [String: Tensor]) -> Void = { _ in }) throws {
        var tensors: [String: Tensor] = [:]
        for key in source.keys { tensors[key] = try source.tensor(key) }
        edit(&tensors)
        self.origin = origin
        self.tensors = tensors
    }
}

/// `concat_proj_tiny.safetensors` stores `model.diffusion_model.P.concat_proj.*` only; the
/// concat reference uses them with the EMA body, so the test presents them as EMA keys.
struct TrainingKeysAsEMA: TensorSource {
    let base: TensorSource
    var origin: String { base.origin }
    var keys: [String] { base.keys.map(Self.emaKey) }
    static func emaKey(_ key: String) -> String {
        "model_ema." + key.dropFirst("model.".count).replacingOccurrences(of: ".", with: "")
    }
    private var byEMAKey: [String: String] { Dictionary(uniqueKeysWithValues: base.keys.map { (Self.emaKey($0), $0) }) }
    func shape(of key: String) -> [Int]? { byEMAKey[key].flatMap(base.shape(of:)) }
    func tensor(_ key: String) throws -> Tensor {
        guard let stored = byEMAKey[key] else { throw TensorFileError(file: origin, key: key, "no such tensor") }
        return try base.tensor(stored)
    }
}

/// Compares with a tolerance relative to the reference's peak, prints the report, expects a pass;
/// returns the worst absolute error.
@discardableResult
func expectParity(_ actual: Tensor, _ expected: Tensor, name: String, relative: Float) -> Float {
    let peak = expected.buffer.reduce(0) { max($0, abs($1)) }
    let report = compare(actual, expected, atol: relative * max(peak, 1e-6), rtol: 0, name: name)
    print("PARITY \(report)")
    #expect(report.passes, "\(report)")
    return report.maxAbsError
}

/// The largest |a - b| (shapes must agree).
func maxDifference(_ a: Tensor, _ b: Tensor) -> Float {
    guard a.shape == b.shape else { return .infinity }
    return zip(a.buffer, b.buffer).reduce(0) { max($0, abs($1.0 - $1.1)) }
}
