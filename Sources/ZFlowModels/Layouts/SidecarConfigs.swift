import Foundation

/// The configs of a single weights file: a JSON file next to it with the same name and the
/// extension `.json` (`tiny.safetensors` -> `tiny.json`), holding diffusers/transformers config
/// objects under `unet`, `vae` and `text_encoder`, and for LD-ZNet `pool_grid_sizes` (tap -> S).
/// Everything in it is optional: what it leaves out is read from the tensor shapes
/// (`UNetArchitecture` and its siblings), and what it gives is checked against them. Unknown
/// top-level keys (notes) are ignored.
public struct SidecarConfigs: Sendable {
    public let path: String
    /// Each section as declared (only its own keys).
    public let declaredUNet: DeclaredConfig?
    public let declaredVAE: DeclaredConfig?
    public let declaredTextEncoder: DeclaredConfig?
    /// Stored pool grid sizes by tap, when given.
    public let poolGridSizes: [Int: Int]?

    /// The sections as whole configs, keys left out taking diffusers' / transformers' defaults
    /// (not the shapes'): for callers that pass whole configs to the loaders.
    public let unet: UNetConfig?
    public let vae: VAEConfig?
    public let textEncoder: CLIPTextConfig?

    /// The sidecar of `file`, or nil when there is none (or `file` is a folder or a `.json` index).
    public static func read(besides file: URL) throws -> SidecarConfigs? {
        guard file.pathExtension != "json" else { return nil }
        let url = file.deletingPathExtension().appendingPathExtension("json")
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        do {
            return try SidecarConfigs(data: Data(contentsOf: url), path: url.path)
        } catch {
            throw SidecarConfigError(path: url.path, reason: "\(error)")
        }
    }

    init(data: Data, path: String) throws {
        self.path = path
        guard let top = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw ConfigError.unreadable(file: path, message: "not a JSON object")
        }
        func section(_ name: String) throws -> DeclaredConfig? {
            guard let value = top[name] else { return nil }
            guard value is [String: Any] else { throw ConfigError.invalid(key: name, message: "is not a JSON object") }
            return try DeclaredConfig(origin: "\(path) (\(name))", object: JSONSerialization.data(withJSONObject: value))
        }
        declaredUNet = try section("unet")
        declaredVAE = try section("vae")
        declaredTextEncoder = try section("text_encoder")
        let decoder = JSONDecoder()
        unet = try declaredUNet.map { try decoder.decode(UNetConfig.self, from: $0.object) }
        vae = try declaredVAE.map { try decoder.decode(VAEConfig.self, from: $0.object) }
        textEncoder = try declaredTextEncoder.map { try decoder.decode(CLIPTextConfig.self, from: $0.object) }
        if let sizes = top["pool_grid_sizes"] {
            guard let object = sizes as? [String: Any] else {
                throw ConfigError.invalid(key: "pool_grid_sizes", message: "is not a JSON object of tap -> S")
            }
            poolGridSizes = try Dictionary(uniqueKeysWithValues: object.map { key, value in
                guard let tap = Int(key), let size = value as? Int, !(value is Bool) else {
                    throw ConfigError.invalid(key: "pool_grid_sizes.\(key)", message: "is not tap number -> integer S")
                }
                return (tap, size)
            })
        } else {
            poolGridSizes = nil
        }
    }
}

/// A sidecar config file that is not valid JSON of the expected shape.
public struct SidecarConfigError: Error, CustomStringConvertible, Equatable {
    public let path: String
    public let reason: String
    public var description: String { "\(path): unreadable config: \(reason)" }
}
