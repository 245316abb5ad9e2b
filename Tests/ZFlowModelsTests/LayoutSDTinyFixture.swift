import Foundation
import Testing
import ZFlowIO
import ZFlowModels
import ZFlowTensor
import ZFlowTestSupport

/// The sd-tiny fixtures written by tools/fixtures/sd_tiny.py (and sharded.py).
enum SDTiny {
    static var root: URL {
        get throws {
            try #require(Bundle.module.resourceURL).appendingPathComponent("Fixtures/sd-tiny")
        }
    }

    static var diffusers: URL { get throws { try root.appendingPathComponent("diffusers") } }
    /// `vae/` only, saved in 3 shards by diffusers (tools/fixtures/sharded.py).
    static var diffusersSharded: URL { get throws { try root.appendingPathComponent("diffusers-sharded") } }
    static var compVisSafeTensors: URL { get throws { try root.appendingPathComponent("compvis/sd-tiny.safetensors") } }
    static var compVisCheckpoint: URL { get throws { try root.appendingPathComponent("compvis/sd-tiny.ckpt") } }
    static var unetLinear: URL { get throws { try root.appendingPathComponent("unet-linear") } }

    static func io() throws -> SafeTensorsFile {
        try SafeTensorsFile(contentsOf: root.appendingPathComponent("io.safetensors"))
    }

    /// The tiny configs, for CompVis files (which carry none).
    static func unetConfig() throws -> UNetConfig {
        try UNetConfig(contentsOf: diffusers.appendingPathComponent("unet/config.json"))
    }

    static func vaeConfig() throws -> VAEConfig {
        try VAEConfig(contentsOf: diffusers.appendingPathComponent("vae/config.json"))
    }
}

/// Compares with a tolerance from the reference's magnitude, prints the worst error, expects a pass.
func expectClose(_ actual: Tensor, _ expected: Tensor, name: String, relative: Float = 5e-5) {
    let peak = expected.buffer.reduce(0) { max($0, abs($1)) }
    let report = compare(actual, expected, atol: relative * max(peak, 1e-6), rtol: 0, name: name)
    print(report)
    #expect(report.passes, "\(report)")
}

/// A `TensorSource` with keys removed, added or replaced, for strictness tests.
struct EditedSource: TensorSource {
    let base: TensorSource
    var removed: Set<String> = []
    var replaced: [String: Tensor] = [:]

    var origin: String { base.origin }
    var keys: [String] { (base.keys.filter { !removed.contains($0) } + replaced.keys.filter { base.shape(of: $0) == nil }).sorted() }

    func shape(of key: String) -> [Int]? {
        if let tensor = replaced[key] { return tensor.shape }
        return removed.contains(key) ? nil : base.shape(of: key)
    }

    func tensor(_ key: String) throws -> Tensor {
        if let tensor = replaced[key] { return tensor }
        return try base.tensor(key)
    }
}
