import Foundation
import ZFlowIO

/// The Stable Diffusion v1 components ZFlow loads.
public enum StableDiffusionComponent: String, Sendable, CaseIterable {
    case unet
    case vae
    case textEncoder = "text_encoder"
}

/// One component's tensors inside a checkpoint: where they are, how model-side (diffusers /
/// transformers) keys map to stored keys, and which stored keys belong to it.
public struct ComponentWeights: Sendable {
    public let component: StableDiffusionComponent
    public let source: TensorSource
    /// Model-side key -> stored key.
    public let rename: @Sendable (String) -> String
    /// Every stored key of this component starts with this (e.g. `model.diffusion_model.`; empty
    /// for a diffusers component file); `load` checks the keys under it.
    public let storedPrefix: String
    /// Stored keys the model deliberately does not use (e.g. the VAE decoder).
    public let ignoredStoredPrefixes: [String]
    /// When set, models built from these weights hold their tensors of this many values and more
    /// only while computing with them (`WeightReader`'s `onDemandFrom`).
    public private(set) var onDemandFrom: Int?

    public init(component: StableDiffusionComponent, source: TensorSource,
                rename: @escaping @Sendable (String) -> String, storedPrefix: String, ignoredStoredPrefixes: [String]) {
        self.component = component
        self.source = source
        self.rename = rename
        self.storedPrefix = storedPrefix
        self.ignoredStoredPrefixes = ignoredStoredPrefixes
    }

    /// A strict reader over this component's keys.
    public func reader() -> WeightReader { WeightReader(source, rename: rename, onDemandFrom: onDemandFrom) }

    /// The same weights, read by models on demand: a layer's weights are in memory (widened to
    /// f32 when stored narrower) only while it computes, so a model needs little more memory than
    /// its largest layer, at the cost of widening every weight again on every run. `minimumElements`:
    /// smaller tensors (biases, norm weights) are held as usual.
    public func onDemand(from minimumElements: Int = WeightReader.onDemandMinimumElements) -> ComponentWeights {
        var copy = self
        copy.onDemandFrom = minimumElements
        return copy
    }

    /// Builds a model from this component's tensors (`WeightReader.load`): every missing,
    /// mis-shaped or unused stored tensor of the component (the ignored prefixes aside) is
    /// reported in one `WeightError.incompatible`.
    public func load<Model>(_ build: (WeightReader) throws -> Model) throws -> Model {
        let reader = reader()
        reader.ignore { key in ignoredStoredPrefixes.contains { key.hasPrefix($0) } }
        return try reader.load(storedPrefix: storedPrefix, build)
    }
}

/// Finds Stable Diffusion v1 weights in either layout:
/// - a diffusers folder (root with `unet/`, `vae/`, `text_encoder/`, `tokenizer/`, or one
///   component folder), each with `config.json` and `diffusion_pytorch_model[.fp16].safetensors`
///   / `model[.fp16].safetensors` (or the `.bin` PyTorch variants, or the index of sharded ones:
///   `diffusersWeightFileNames`);
/// - a CompVis single file (`.ckpt` / `.safetensors`) with `model.diffusion_model.*`,
///   `first_stage_model.*`, `cond_stage_model.transformer.*`; its UNet/VAE configs default to
///   SD v1 and can be given for other sizes.
public struct StableDiffusionWeights: Sendable {
    public enum Layout: Sendable {
        /// Component folder per component (only those present).
        case diffusers(folders: [StableDiffusionComponent: URL])
        case compVis(file: URL, source: TensorSource)
    }

    public let layout: Layout
    /// Whole configs a caller gave for a CompVis file; they replace the sidecar's.
    let unetConfigOverride: UNetConfig?
    let vaeConfigOverride: VAEConfig?
    /// The sidecar `<file>.json` of a CompVis file, if there is one.
    public let sidecar: SidecarConfigs?

    /// The CompVis prefix of the CLIP text model's transformers keys (`text_model.*` follows).
    public static let compVisTextEncoderPrefix = "cond_stage_model.transformer."
    static let compVisUNetPrefix = "model.diffusion_model."
    static let compVisVAEPrefix = "first_stage_model."

    /// `url`: a diffusers root or component folder, or a CompVis single file. A CompVis file's
    /// architectures are read from its tensor shapes; its sidecar `<file>.json`, if any, may give
    /// some or all of the configs, and `unetConfig` / `vaeConfig` replace the sidecar's. Every
    /// config (also a diffusers folder's `config.json`) is checked against the shapes.
    public init(url: URL, unetConfig: UNetConfig? = nil, vaeConfig: VAEConfig? = nil) throws {
        try PathCheck.require(url.path, .fileOrFolder)
        unetConfigOverride = unetConfig
        vaeConfigOverride = vaeConfig
        var isDirectory: ObjCBool = false
        _ = FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory)
        if isDirectory.boolValue {
            layout = .diffusers(folders: try diffusersComponentFolders(url))
            sidecar = nil
        } else {
            layout = .compVis(file: url, source: try openTensorFile(url))
            sidecar = try SidecarConfigs.read(besides: url)
        }
    }

    static let expectedLayouts = "a diffusers folder (unet/, vae/, text_encoder/ with config.json and "
        + "*.safetensors) or a CompVis single file (.ckpt or .safetensors)"

    /// The tokenizer folder of a diffusers root (`vocab.json`, `merges.txt`), if there is one.
    public var tokenizerFolder: URL? {
        guard case let .diffusers(folders) = layout, let unet = folders.values.first else { return nil }
        let folder = unet.deletingLastPathComponent().appendingPathComponent("tokenizer")
        return FileManager.default.fileExists(atPath: folder.appendingPathComponent("vocab.json").path) ? folder : nil
    }

    /// The UNet's tensors (diffusers naming through the CompVis table when needed) and config.
    public func unet() throws -> (weights: ComponentWeights, config: UNetConfig) {
        switch layout {
        case let .diffusers(folders):
            let (source, folder) = try diffusersComponent(.unet, folders)
            let configFile = folder.appendingPathComponent("config.json")
            let config = try UNetArchitecture(source: source, naming: .diffusers, stored: { $0 })
                .resolve(DeclaredConfig.read(configFile), configFile: configFile.path)
            return (ComponentWeights(component: .unet, source: source, rename: { $0 }, storedPrefix: "",
                                     ignoredStoredPrefixes: []), config)
        case let .compVis(file, source):
            let prefix = Self.compVisUNetPrefix
            try requirePrefix(prefix, in: source, component: .unet, file: file)
            let declared = try unetConfigOverride.map { try DeclaredConfig(origin: "the UNet config given", declaring: $0) }
            let config = try UNetArchitecture(source: source, naming: .compVis, stored: { prefix + $0 })
                .resolve(declared ?? sidecar?.declaredUNet, configFile: sidecarPath(file))
            let table = compVisUNetTable(config)
            return (ComponentWeights(component: .unet, source: source, rename: table.storedKey,
                                     storedPrefix: table.storedPrefix, ignoredStoredPrefixes: []), config)
        }
    }

    /// The VAE's tensors (the decoder and `post_quant_conv` are ignored) and config.
    public func vae() throws -> (weights: ComponentWeights, config: VAEConfig) {
        switch layout {
        case let .diffusers(folders):
            let (source, folder) = try diffusersComponent(.vae, folders)
            let configFile = folder.appendingPathComponent("config.json")
            let config = try VAEArchitecture(source: source, naming: .diffusers, stored: { $0 })
                .resolve(DeclaredConfig.read(configFile), configFile: configFile.path)
            return (ComponentWeights(component: .vae, source: source, rename: { $0 }, storedPrefix: "",
                                     ignoredStoredPrefixes: ["decoder.", "post_quant_conv."]), config)
        case let .compVis(file, source):
            let prefix = Self.compVisVAEPrefix
            try requirePrefix(prefix, in: source, component: .vae, file: file)
            let declared = try vaeConfigOverride.map { try DeclaredConfig(origin: "the VAE config given", declaring: $0) }
            let config = try VAEArchitecture(source: source, naming: .compVis, stored: { prefix + $0 })
                .resolve(declared ?? sidecar?.declaredVAE, configFile: sidecarPath(file))
            let table = compVisVAEEncoderTable(config)
            let ignored = ["decoder.", "post_quant_conv.", "loss."].map { table.storedPrefix + $0 }
            return (ComponentWeights(component: .vae, source: source, rename: table.storedKey,
                                     storedPrefix: table.storedPrefix, ignoredStoredPrefixes: ignored), config)
        }
    }

    /// The CLIP text encoder, its config read from the shapes with the declared keys (a diffusers
    /// folder's `text_encoder/config.json`, a CompVis file's sidecar section) over them, checked.
    public func textEncoderModel() throws -> CLIPTextEncoder {
        let (weights, configFile) = try textEncoder()
        switch layout {
        case .diffusers:
            let file = configFile?.path ?? "text_encoder/config.json"
            return try CLIPTextEncoder(declared: configFile.flatMap { try DeclaredConfig.read($0, section: "text_config") },
                                       configFile: file, weights: weights.source)
        case let .compVis(file, _):
            return try CLIPTextEncoder(declared: sidecar?.declaredTextEncoder, configFile: sidecarPath(file),
                                       weights: weights.source)
        }
    }

    /// The CLIP text encoder's tensors under their transformers names (`text_model.*`), and its
    /// `config.json` when the layout has one (CompVis files: `textEncoderModel` reads the sidecar).
    public func textEncoder() throws -> (weights: ComponentWeights, configFile: URL?) {
        switch layout {
        case let .diffusers(folders):
            let (source, folder) = try diffusersComponent(.textEncoder, folders)
            return (ComponentWeights(component: .textEncoder, source: source, rename: { $0 }, storedPrefix: "",
                                     ignoredStoredPrefixes: []), folder.appendingPathComponent("config.json"))
        case let .compVis(file, source):
            let prefix = StableDiffusionWeights.compVisTextEncoderPrefix
            try requirePrefix(prefix, in: source, component: .textEncoder, file: file)
            return (ComponentWeights(component: .textEncoder, source: source, rename: { prefix + $0 },
                                     storedPrefix: prefix, ignoredStoredPrefixes: []), nil)
        }
    }
}

/// Where a CompVis file's sidecar is (or would be), for messages asking for a value.
private func sidecarPath(_ file: URL) -> String {
    file.deletingPathExtension().appendingPathExtension("json").path
}

private func requirePrefix(_ prefix: String, in source: TensorSource, component: StableDiffusionComponent,
                           file: URL) throws {
    if !source.keys.contains(where: { $0.hasPrefix(prefix) }) {
        throw LayoutError.componentMissing(component: component.rawValue, location: file.path,
                                           expected: "tensors named \(prefix)*")
    }
}

/// The component folders under a diffusers root, or the single component a folder is.
private func diffusersComponentFolders(_ url: URL) throws -> [StableDiffusionComponent: URL] {
    let fileManager = FileManager.default
    var folders: [StableDiffusionComponent: URL] = [:]
    for component in StableDiffusionComponent.allCases {
        let folder = url.appendingPathComponent(component.rawValue)
        if fileManager.fileExists(atPath: folder.path) { folders[component] = folder }
    }
    if !folders.isEmpty { return folders }
    let config = url.appendingPathComponent("config.json")
    guard fileManager.fileExists(atPath: config.path) else {
        throw LayoutError.notAStableDiffusionLayout(path: url.path, expected: StableDiffusionWeights.expectedLayouts)
    }
    struct ClassName: Decodable { let _class_name: String? }
    let className = (try? JSONDecoder().decode(ClassName.self, from: Data(contentsOf: config)))?._class_name
    let byClass: [String: StableDiffusionComponent] = [
        "UNet2DConditionModel": .unet, "AutoencoderKL": .vae, "CLIPTextModel": .textEncoder,
    ]
    guard let component = className.flatMap({ byClass[$0] })
            ?? StableDiffusionComponent(rawValue: url.lastPathComponent) else {
        throw LayoutError.notAStableDiffusionLayout(
            path: url.path, expected: "a config.json with _class_name UNet2DConditionModel, AutoencoderKL or CLIPTextModel")
    }
    return [component: url]
}

private func diffusersComponent(_ component: StableDiffusionComponent,
                                _ folders: [StableDiffusionComponent: URL]) throws -> (TensorSource, URL) {
    let names = diffusersWeightFileNames(component)
    guard let folder = folders[component] else {
        let location = folders.values.first.map { $0.deletingLastPathComponent().path } ?? "?"
        throw LayoutError.componentMissing(
            component: component.rawValue, location: location,
            expected: "\(component.rawValue)/config.json and \(component.rawValue)/\(names[0])")
    }
    guard FileManager.default.fileExists(atPath: folder.appendingPathComponent("config.json").path) else {
        throw LayoutError.missingConfig(folder: folder.path)
    }
    return (try openDiffusersWeights(in: folder, component: component), folder)
}

/// Opens a `.safetensors` file or a PyTorch zip checkpoint (`.ckpt`, `.pt`, `.pth`, `.bin`; its
/// tensors under `state_dict` when the top object holds one), both mapped.
func openTensorFile(_ url: URL) throws -> TensorSource {
    switch url.pathExtension.lowercased() {
    case "safetensors":
        return try SafeTensorsFile(contentsOf: url)
    case "ckpt", "pt", "pth", "bin":
        return try TorchCheckpoint(contentsOf: url)
    default:
        throw LayoutError.unsupportedFile(path: url.path, supported: [".safetensors", ".ckpt", ".pt", ".pth", ".bin"])
    }
}
