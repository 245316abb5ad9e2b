import Foundation

/// A config object as a file (a diffusers `config.json`, a sidecar section) or a caller declares
/// it: only its own keys. Keys it leaves out take the values read from the weights
/// (`UNetArchitecture` and its siblings), not library defaults.
public struct DeclaredConfig: Sendable {
    /// Where it came from, for messages (a file path).
    public let origin: String
    /// The JSON object's bytes.
    let object: Data
    public let keys: Set<String>

    /// `object` must be the bytes of a JSON object.
    public init(origin: String, object: Data) throws {
        guard let dictionary = try? JSONSerialization.jsonObject(with: object) as? [String: Any] else {
            throw ConfigError.unreadable(file: origin, message: "not a JSON object")
        }
        self.origin = origin
        self.object = object
        keys = Set(dictionary.keys)
    }

    /// Every key of `config` declared (a whole config a caller passes).
    public init<Config: Encodable>(origin: String, declaring config: Config) throws {
        try self.init(origin: origin, object: JSONEncoder().encode(config))
    }

    /// `origin`'s JSON file, or nil when there is none. `section` picks a nested object
    /// (`"text_config"` of a transformers CLIP config) when the file has it.
    public static func read(_ url: URL, section: String? = nil) throws -> DeclaredConfig? {
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw ConfigError.unreadable(file: url.path, message: "\(error)")
        }
        guard let section,
              let top = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let nested = top[section], nested is [String: Any] else {
            return try DeclaredConfig(origin: url.path, object: data)
        }
        return try DeclaredConfig(origin: url.path, object: JSONSerialization.data(withJSONObject: nested))
    }

    public func declares(_ key: String) -> Bool { keys.contains(key) }

    /// `base` with this object's keys laid over it, decoded as `Config` (a value of the wrong
    /// JSON type is an error naming this config's origin).
    func overlay<Config: Codable>(on base: Config) throws -> Config {
        do {
            var merged = try JSONSerialization.jsonObject(with: JSONEncoder().encode(base)) as? [String: Any] ?? [:]
            let declared = try JSONSerialization.jsonObject(with: object) as? [String: Any] ?? [:]
            merged.merge(declared) { _, new in new }
            return try JSONDecoder().decode(Config.self, from: JSONSerialization.data(withJSONObject: merged))
        } catch let error as ConfigError {
            throw error
        } catch {
            throw ConfigError.unreadable(file: origin, message: "\(error)")
        }
    }
}
