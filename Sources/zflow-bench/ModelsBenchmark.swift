// `zflow-bench models`: full-size SD v1 UNet and VAE encoder, timed and compared with the
// PyTorch outputs tools/parity/sd_full.py wrote next to the weights.
import Foundation
import ZFlowIO
import ZFlowModels
import ZFlowTensor

let modelsUsage = """
    usage: zflow-bench models --weights DIR [--runs N] [--component all|vae|unet|unet-tap10] [--no-parity]
      DIR: a diffusers folder with unet/ and vae/ (tools/parity/sd_full.py build DIR), whose
           io.safetensors holds the inputs and PyTorch's outputs
    """

private struct ModelsOptions {
    var weights: URL?
    var runs = 3
    var component = "all"
    var parity = true

    init(_ arguments: [String]) throws {
        var rest = arguments[...]
        while let flag = rest.popFirst() {
            switch flag {
            case "--weights": weights = rest.popFirst().map { URL(fileURLWithPath: $0) }
            case "--runs": runs = try rest.popFirst().flatMap(Int.init).map { max($0, 1) } ?? { throw ModelsUsageError() }()
            case "--component": component = rest.popFirst() ?? ""
            case "--no-parity": parity = false
            default: throw ModelsUsageError()
            }
        }
        guard weights != nil, ["all", "vae", "unet", "unet-tap10"].contains(component) else { throw ModelsUsageError() }
    }
}

private struct ModelsUsageError: Error, CustomStringConvertible {
    var description: String { modelsUsage }
}

/// Warm-up once, then the medians of `runs` timed calls: wall seconds and working CPU seconds
/// (`workingCPUNanoseconds`; the CPU figure is what to compare on a machine shared with other jobs).
private func medianSeconds(runs: Int, _ body: () throws -> Void) rethrows -> (wall: Double, cpu: Double) {
    try body()
    var walls: [Double] = [], cpus: [Double] = []
    for _ in 0..<runs {
        let cpuStart = workingCPUNanoseconds()
        walls.append(try wallSeconds(body))
        cpus.append(Double(cpuNanoseconds(from: cpuStart, to: workingCPUNanoseconds())) / 1e9)
    }
    return (median(walls), median(cpus))
}

/// max |a - b| / max |ref|, or a note when the shapes differ.
private func relativeError(_ actual: Tensor, _ expected: Tensor) -> String {
    guard actual.shape == expected.shape else { return "shape \(actual.shape) != reference \(expected.shape)" }
    var worst: Float = 0, peak: Float = 0
    for (a, b) in zip(actual.buffer, expected.buffer) {
        worst = max(worst, abs(a - b))
        peak = max(peak, abs(b))
    }
    let ratio = worst / max(peak, .leastNormalMagnitude)
    return String(format: "max|a-b|/max|ref| = %.2e (max|ref| %.3g)%@", ratio, peak, ratio <= 1e-3 ? "" : "  ABOVE 1e-3")
}

func runModelsBenchmark(_ arguments: [String]) throws {
    let options = try ModelsOptions(arguments)
    guard let directory = options.weights else { throw ModelsUsageError() }
    let weights = try StableDiffusionWeights(url: directory)
    let io = try SafeTensorsFile(contentsOf: directory.appendingPathComponent("io.safetensors"))
    print("zflow-bench models: \(directory.path), median of \(options.runs) after a warm-up")

    if options.component == "all" || options.component == "vae" {
        let (vaeWeights, config) = try weights.vae()
        var encoder: VAEEncoder?
        let load = try wallSeconds { encoder = try VAEEncoder(weights: vaeWeights, config: config) }
        guard let encoder else { return }
        let image = try io.tensor("image")
        if options.parity {
            let posterior = try encoder(image)
            print("  VAE mean:   \(relativeError(posterior.mean, try io.tensor("vae_mean")))")
            print("  VAE logvar: \(relativeError(posterior.logvar, try io.tensor("vae_logvar")))")
        }
        let time = try medianSeconds(runs: options.runs) { _ = try encoder(image) }
        print(String(format: "  VAE encode %@: %.3f s wall, %.3f s CPU (load %.2f s)", "\(image.shape)",
                         time.wall, time.cpu, load))
    }

    if options.component != "vae" {
        let (unetWeights, config) = try weights.unet()
        var model: UNet2DConditionModel?
        let load = try wallSeconds { model = try UNet2DConditionModel(weights: unetWeights, config: config) }
        guard let unet = model else { return }
        let latent = try io.tensor("latent"), context = try io.tensor("context")
        let timestep = try io.tensor("timestep").scalars[0]
        if options.parity {
            let output = try unet(latent, timestep: timestep, context: context, taps: Set(1...unet.tapCount))
            if let eps = output.eps { print("  UNet eps:   \(relativeError(eps, try io.tensor("eps")))") }
            for tap in 1...unet.tapCount {
                if let value = output.taps[tap] {
                    print("  UNet tap \(tap < 10 ? " " : "")\(tap): \(relativeError(value, try io.tensor("tap.\(tap)")))")
                }
            }
        }
        if options.component != "unet-tap10" {
            let full = try medianSeconds(runs: options.runs) {
                _ = try unet(latent, timestep: timestep, context: context)
            }
            print(String(format: "  UNet full forward %@: %.3f s wall, %.3f s CPU (load %.2f s)", "\(latent.shape)",
                             full.wall, full.cpu, load))
        }
        if options.component != "unet" {
            let early = try medianSeconds(runs: options.runs) {
                _ = try unet(latent, timestep: timestep, context: context, taps: [10], wantEps: false)
            }
            print(String(format: "  UNet stopped after tap 10: %.3f s wall, %.3f s CPU", early.wall, early.cpu))
        }
    }
}
