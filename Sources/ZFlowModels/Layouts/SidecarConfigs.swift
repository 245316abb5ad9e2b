import Foundation

/// The configs of a CompVis single file whose architecture is not SD v1's: a JSON
/// file next to it with the same name and the extension `.json`
/// (`tiny.safetensors` -> `tiny.json`), holding diffusers/transformers config
/// objects under `unet`, `vae` and `text_encoder` (each optional; absent ones
/// mean the SD v1 defaults). Unknown top-level keys (notes) are ignored.
public struct SidecarConfigs: Decodable, Sendable {
    public let unet: UNetConfig?
    public let vae: VAEConfig?
    public let textEncoder: CLIPTextConfig?

    enum CodingKeys: String, CodingKey {
        case unet, vae, textEncoder = "text_encoder"
    }

    /// The sidecar of `file`, or nil when there is none (or `file` is a folder).
    public static func read(besides file: URL) throws -> SidecarConfigs? {
        guard file.pathExtension != "json" else { return nil }
        let url = file.deletingPathExtension().appendingPathExtension("json")
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        do {
            return try JSONDecoder().decode(SidecarConfigs.self, from: Data(contentsOf: url))
        } catch {
            throw SidecarConfigError(path: url.path, reason: "\(error)")
        }
    }
}

/// A sidecar config file that is not valid JSON of the expected shape.
public struct SidecarConfigError: Error, CustomStringConvertible, Equatable {
    public let path: String
    public let reason: String
    public var description: String { "\(path): unreadable config: \(reason)" }
}
