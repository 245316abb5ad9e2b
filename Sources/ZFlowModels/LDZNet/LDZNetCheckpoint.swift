import Foundation
import ZFlowIO
import ZFlowTensor

extension UNetConfig {
    /// ZNet in the official LD-ZNet release: the SD v1 UNet with one output channel.
    public static let ldzNetV1: UNetConfig = {
        var config = UNetConfig.sdV1
        config.outChannels = 1
        return config
    }()
}

/// A checkpoint that is not the LD-ZNet the caller asked for, naming what is missing.
public enum LDZNetCheckpointError: Error, CustomStringConvertible, Equatable {
    case noZNetWeights(origin: String, expected: String)
    case missingFusionWeights(origin: String, fusion: String, missing: [String])
    case poolEmbeddingShape(key: String, shape: [Int], origin: String)

    public var description: String {
        switch self {
        case let .noZNetWeights(origin, expected):
            return "\(origin): not an LD-ZNet checkpoint: no tensors named \(expected)"
        case let .missingFusionWeights(origin, fusion, missing):
            return "\(origin): fusion '\(fusion)' needs weights that are not stored: "
                + missing.map { "'\($0)*'" }.joined(separator: ", ")
        case let .poolEmbeddingShape(key, shape, origin):
            return "\(origin): '\(key)' has shape \(shape), expected [C, S*S+1]"
        }
    }
}

/// The official LD-ZNet Lightning checkpoint (`.ckpt`, `state_dict`) or the same tensors as
/// `.safetensors` (spec "Checkpoints people have"; docs/ldznet-reference.md "Key layout").
///
/// ZNet, pools and `attn3` are stored twice: the training copy `model.diffusion_model.<CompVis
/// name>` and the EMA copy `model_ema.` + (`diffusion_model.<CompVis name>` without its dots).
/// Inference uses the EMA copy; without one the training copy is used and a warning says so.
public struct LDZNetCheckpoint: Sendable {
    public enum Copy: String, Sendable, CaseIterable {
        /// `model_ema.*` (LitEma, dots removed): what inference uses.
        case ema
        /// `model.diffusion_model.*`: the weights as trained at the last step.
        case training
    }

    public let source: TensorSource
    public let copy: Copy
    /// The sidecar `<file>.json` of a checkpoint opened by URL, if there is one.
    public let sidecar: SidecarConfigs?
    /// Where a message asks the user to give a value the shapes do not hold.
    let sidecarPath: String
    /// Things the caller should tell the user (e.g. the fallback to the training copy).
    public let warnings: [String]

    static let emaPrefix = "model_ema.diffusion_model"
    static let trainingPrefix = "model.diffusion_model."

    /// Stored keys that are not ZNet weights and are ignored on purpose: LitEma's counters and
    /// the DDPM schedule buffers of the ldm `LatentDiffusion` module (`NoiseSchedule` recomputes them).
    static let ignoredKeys: Set<String> = [
        "model_ema.decay", "model_ema.num_updates",
        "betas", "alphas_cumprod", "alphas_cumprod_prev", "sqrt_alphas_cumprod", "sqrt_one_minus_alphas_cumprod",
        "log_one_minus_alphas_cumprod", "sqrt_recip_alphas_cumprod", "sqrt_recipm1_alphas_cumprod",
        "posterior_variance", "posterior_log_variance_clipped", "posterior_mean_coef1", "posterior_mean_coef2",
        "logvar",
    ]
    /// The frozen SD parts some LD-ZNet files also carry (loaded from the SD checkpoint instead),
    /// and the optimizer state a ZFlowTrain `TrainingCheckpoint` stores beside the weights
    /// (`optimizer.*`; `zflow.*` is its metadata, ignored too should a writer store it as tensors),
    /// and the EMA of a text encoder `zflow train` trained (`model_ema.cond_stage_model*`).
    static let ignoredPrefixes = ["first_stage_model.", "cond_stage_model.", "optimizer.", "zflow.", "model_ema.cond_stage_model"]

    /// Opens `url` (`.ckpt` or `.safetensors`, chosen by content). `copy` forces a copy;
    /// nil picks EMA when stored, else the training copy with a warning.
    /// Its sidecar `<file>.json`, if any, may give some or all of the ZNet config and the pool
    /// grid sizes (both checked against the shapes).
    public init(url: URL, copy: Copy? = nil) throws {
        try self.init(source: openTensorSource(url), copy: copy, sidecarOf: url)
    }

    /// Several files seen as one (e.g. the checkpoint plus a file of `concat_proj` weights); the
    /// first file's sidecar is read.
    public init(urls: [URL], copy: Copy? = nil) throws {
        try self.init(source: TensorSourceUnion(urls.map { try openTensorSource($0) }), copy: copy,
                      sidecarOf: urls.first)
    }

    public init(source: TensorSource, copy requested: Copy? = nil) throws {
        try self.init(source: source, copy: requested, sidecarOf: nil)
    }

    /// `source` read with the sidecar `<file>.json` of `file` (nil: no sidecar), e.g. a file's
    /// tensors together with ones training adds to them.
    public init(source: TensorSource, copy requested: Copy?, sidecarOf file: URL?) throws {
        self.source = source
        sidecar = try file.flatMap { try SidecarConfigs.read(besides: $0) }
        sidecarPath = file.map { $0.deletingPathExtension().appendingPathExtension("json").path }
            ?? "a config given to loadZNet"
        let hasEMA = source.keys.contains { $0.hasPrefix(Self.emaPrefix) }
        let hasTraining = source.keys.contains { $0.hasPrefix(Self.trainingPrefix) }
        switch requested {
        case .ema? where !hasEMA, nil where !hasEMA && !hasTraining:
            throw LDZNetCheckpointError.noZNetWeights(origin: source.origin, expected: "\(Self.emaPrefix)*")
        case .training? where !hasTraining:
            throw LDZNetCheckpointError.noZNetWeights(origin: source.origin, expected: "\(Self.trainingPrefix)*")
        case let forced?:
            copy = forced
            warnings = []
        case nil where hasEMA:
            copy = .ema
            warnings = []
        case nil:
            copy = .training
            warnings = ["\(source.origin): no EMA copy (model_ema.*) stored; using the training copy "
                        + "model.diffusion_model.*, which inference does not normally use"]
        }
    }

    /// The stored key of the ZNet parameter with CompVis name `compVisName` (e.g. `out.2.weight`).
    public func storedKey(compVisName: String) -> String {
        switch copy {
        case .ema: return "model_ema." + ("diffusion_model." + compVisName).replacingOccurrences(of: ".", with: "")
        case .training: return Self.trainingPrefix + compVisName
        }
    }

    /// Model-side (diffusers) key -> stored key, through the CompVis UNet table of `config`.
    public func rename(for config: UNetConfig) -> @Sendable (String) -> String {
        let table = compVisUNetTable(config, storedPrefix: "")
        let checkpoint = self
        return { checkpoint.storedKey(compVisName: table.storedKey($0)) }
    }

    /// S of each stored pool embedding [C, S*S+1], by tap (taps without a pool are left out);
    /// the sidecar's `pool_grid_sizes`, when given, must agree.
    public func poolGridSizes(config: UNetConfig, taps: [Int] = ldzNetTaps) throws -> [Int: Int] {
        let rename = rename(for: config)
        var sizes: [Int: Int] = [:]
        for position in try fusionPositions(config, taps: taps) {
            let key = rename("\(position.path).attentionpool2D.positional_embedding")
            guard let shape = source.shape(of: key) else { continue }
            let side = shape.count == 2 ? Int(Double(shape[1] - 1).squareRoot().rounded()) : 0
            guard shape.count == 2, side > 0, side * side + 1 == shape[1] else {
                throw LDZNetCheckpointError.poolEmbeddingShape(key: key, shape: shape, origin: source.origin)
            }
            if let declared = sidecar?.poolGridSizes?[position.tap], declared != side {
                throw ConfigMismatchError(config: sidecar?.path ?? sidecarPath, key: "pool_grid_sizes.\(position.tap)",
                                          value: "\(declared)", weights: source.origin,
                                          evidence: .poolGrid(tensor: key, shape: shape))
            }
            sizes[position.tap] = side
        }
        return sizes
    }

    /// The stored-key prefix of the model-side module prefix `modelPrefix` (ending in "."). The
    /// EMA names have no dots, so the prefix is compared without its final one.
    func storedPrefix(of modelPrefix: String, config: UNetConfig) -> String {
        String(rename(for: config)(modelPrefix + "x").dropLast())
    }

    /// The ZNet architecture the shapes hold (the EMA or training copy, as chosen).
    public func architecture() throws -> UNetArchitecture {
        try UNetArchitecture(source: source, naming: .compVis, stored: { [self] in storedKey(compVisName: $0) })
    }

    /// Builds ZNet with the fusion registered as `fusion` and checks that every stored key was
    /// used or is ignored on purpose (the other copy, LitEma counters, schedule buffers, SD parts,
    /// and the weights of other registered fusions, which get a warning). Every missing,
    /// mis-shaped or unused tensor is reported in one `WeightError.incompatible`.
    /// `config` (checked against the shapes) or, when nil, the sidecar's `unet` keys over the
    /// config the shapes hold (`UNetArchitecture.resolve`).
    public func loadZNet(config declared: UNetConfig? = nil, fusion: String, taps: [Int] = ldzNetTaps,
                         registry: FusionRegistry = .shared) throws -> (znet: ZNet, warnings: [String]) {
        let strategy = try registry.strategy(named: fusion)
        let architecture = try architecture()
        // Module paths depend only on the structure the shapes hold, so a file without the
        // fusion's weights is named as such before any config value is compared.
        let storedPrefix = { (modelPrefix: String) in self.storedPrefix(of: modelPrefix, config: architecture.config) }
        let missing = try fusionPositions(architecture.config, taps: taps).flatMap { position in
            strategy.parameterPrefixes.map { storedPrefix("\(position.path).\($0)") }
        }.filter { prefix in !source.keys.contains { $0.hasPrefix(prefix) } }
        if !missing.isEmpty {
            throw LDZNetCheckpointError.missingFusionWeights(origin: source.origin, fusion: fusion, missing: missing)
        }
        let declaredConfig = try declared.map { try DeclaredConfig(origin: "the ZNet config given", declaring: $0) }
        let config = try architecture.resolve(declaredConfig ?? sidecar?.declaredUNet, configFile: sidecarPath)
        let positions = try fusionPositions(config, taps: taps, poolGridSizes: poolGridSizes(config: config, taps: taps))
        let rename = rename(for: config)

        let reader = WeightReader(source, rename: rename)
        var warnings = self.warnings
        for other in registry.all where other.name != fusion {
            let prefixes = positions.flatMap { position in
                other.parameterPrefixes.map { storedPrefix("\(position.path).\($0)") }
            }
            let unused = Set(source.keys.filter { key in prefixes.contains { key.hasPrefix($0) } })
            guard !unused.isEmpty else { continue }
            reader.ignore { unused.contains($0) }
            warnings.append("\(source.origin): \(unused.count) tensor(s) of fusion '\(other.name)' are not used "
                            + "by fusion '\(fusion)'")
        }
        let otherCopy = copy == .ema ? Self.trainingPrefix : "model_ema."
        reader.ignore { key in
            Self.ignoredKeys.contains(key) || key.hasPrefix(otherCopy)
                || Self.ignoredPrefixes.contains { key.hasPrefix($0) }
        }
        // Parameters are named by their training-copy key whichever copy was read.
        let table = compVisUNetTable(config, storedPrefix: "")
        let znet = try reader.load {
            try ZNet($0, config: config, fusion: strategy, positions: positions,
                     parameterKey: { Self.trainingPrefix + table.storedKey($0) })
        }
        return (znet, warnings)
    }
}
